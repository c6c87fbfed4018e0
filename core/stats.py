"""Period statistics as the seeds' report tables define them (DOMAIN.md §6)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from core.cases.model import Case, Satisfaction, Status, Tier

CLOSED_LIKE = frozenset({Status.CLOSED, Status.NOT_ACCEPTED, Status.WITHDRAWN, Status.MERGED})


@dataclass(frozen=True)
class CategoryRow:
    category: str
    count: int
    closed: int
    cases: tuple[tuple[str, str, str, bool], ...]  # (number, content, corrective action, closed?)


@dataclass(frozen=True)
class DepartmentRow:
    department: str
    count: int
    closed: int
    on_time: int  # resolved by the (possibly extended) deadline
    resolved: int
    satisfied: int  # 满意 or 基本满意 at the revisit
    rated: int
    repeat: int  # reopened: the same problem complained about again


@dataclass(frozen=True)
class PeriodReport:
    start: datetime
    end: datetime
    complaints: int  # registered in the period
    cumulative: int  # registered in the period + earlier ones still open at its start
    closed_new: int  # of this period's complaints, closed by its end
    closed_cumulative: int
    handling_rate: float  # closed_new / complaints
    cumulative_handling_rate: float
    complaint_rate: float | None  # complaints per household (property), when known
    complainants: int  # people, counting joined complainants of the same matter
    by_category: tuple[CategoryRow, ...]
    by_department: tuple[DepartmentRow, ...]
    by_tier: dict[str, int] = field(default_factory=dict)
    by_cause: dict[str, int] = field(default_factory=dict)  # root cause (人机料法环) -> cases
    serious: tuple[tuple[str, str, str], ...] = ()  # (number, tier, reasons) for 重大 / 热点
    open_cases: tuple[tuple[str, str, str], ...] = ()  # (number, status, last event)


def _closed_by(case: Case, end: datetime) -> bool:
    """Closed (or otherwise ended) before `end`; `closed_at` is set by every ending."""
    return case.status in CLOSED_LIKE and (case.closed_at is None or case.closed_at < end)


def _pct(a: int, b: int) -> float:
    return round(100.0 * a / b, 1) if b else 0.0


def period_report(cases: list[Case], start: datetime, end: datetime,
                  households: int | None = None,
                  causes: dict[str, str] | None = None) -> PeriodReport:
    """`cases`: every case registered before `end` that was open at `start` or registered
    in [start, end). Merged cases are counted once under the case they joined. Events are
    needed only on 热点/重大 cases (for the reasons of their tier); `causes` maps case
    numbers to their recorded root cause."""
    this = [c for c in cases if start <= c.received_at < end and c.status != Status.MERGED]
    earlier_open = [c for c in cases if c.received_at < start and c.status != Status.MERGED]
    cumulative = this + earlier_open
    closed_new = [c for c in this if _closed_by(c, end)]
    closed_cum = [c for c in cumulative if _closed_by(c, end)]
    by_cat: dict[str, list[Case]] = {}
    for c in this:
        by_cat.setdefault(c.category or "-", []).append(c)
    cat_rows = tuple(
        CategoryRow(name, len(items), sum(1 for c in items if _closed_by(c, end)),
                    tuple((c.number, c.grievance[:60], (c.resolution or "")[:60],
                           _closed_by(c, end)) for c in items))
        for name, items in sorted(by_cat.items(), key=lambda kv: -len(kv[1])))
    by_dept: dict[str, list[Case]] = {}
    for c in this:
        by_dept.setdefault(c.department or "-", []).append(c)
    dept_rows = []
    for dept, items in sorted(by_dept.items()):
        resolved = [c for c in items if c.resolved_at is not None]
        rated = [c for c in items if c.satisfaction is not None]
        dept_rows.append(DepartmentRow(
            dept, len(items), sum(1 for c in items if _closed_by(c, end)),
            sum(1 for c in resolved if c.due_resolution and c.resolved_at
                and c.resolved_at <= c.due_resolution), len(resolved),
            sum(1 for c in rated if c.satisfaction in (Satisfaction.SATISFIED,
                                                        Satisfaction.BASICALLY)),
            len(rated), sum(1 for c in items if c.reopen_count)))
    serious = tuple(
        (c.number, c.tier.value, "; ".join(str(e.data.get("reason", "")) for e in c.history()
                                            if e.type == "tier_raised"))
        for c in cumulative if c.tier in (Tier.MAJOR, Tier.HOT))
    open_cases = tuple(
        (c.number, c.status.value, c.history()[-1].type if c.history() else c.status.value)
        for c in cumulative if not _closed_by(c, end))
    return PeriodReport(
        start=start, end=end, complaints=len(this), cumulative=len(cumulative),
        closed_new=len(closed_new), closed_cumulative=len(closed_cum),
        handling_rate=_pct(len(closed_new), len(this)),
        cumulative_handling_rate=_pct(len(closed_cum), len(cumulative)),
        complaint_rate=round(len(this) / households, 4) if households else None,
        complainants=sum(c.complainants for c in this),
        by_category=cat_rows, by_department=tuple(dept_rows),
        by_tier=dict(Counter(c.tier.value for c in this)),
        by_cause=dict(Counter(causes[c.number] for c in this if causes and c.number in causes)),
        serious=serious,
        open_cases=open_cases,
    )
