"""Repositories over one SQLModel session (the unit of work's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from core.cases.model import OPEN, Case
from storage.mappers import case_to_row, event_to_row, row_to_case
from storage.tables import (
    CaseRow,
    CounterRow,
    DialogStateRow,
    EventRow,
    IdentityRow,
    InboundSeenRow,
    InviteRow,
    MetaRow,
    StaffRow,
)

_OPEN_VALUES = [s.value for s in OPEN]


def upsert_ignore(session: Session, table: Any, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when a row was inserted."""
    dialect = session.get_bind().dialect.name
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (ins(table).values(**values).on_conflict_do_nothing()
            .returning(*table.primary_key.columns))
    # Core execution on the session's connection: same transaction, none of the ORM's
    # bulk-statement bookkeeping (this runs for every inbound message)
    return session.connection().execute(stmt).first() is not None


class SqlCaseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.touched: dict[str, Case] = {}
        self._rows: dict[str, CaseRow] = {}

    def add(self, case: Case) -> None:
        row = case_to_row(case)
        self.session.add(row)
        self.session.flush()
        case.id = row.id
        self._rows[case.number] = row
        self.touched[case.number] = case

    def get(self, number: str) -> Case | None:
        if number in self.touched:
            return self.touched[number]
        row = self.session.scalars(
            select(CaseRow).where(col(CaseRow.number) == number)).first()
        if row is None:
            return None
        events = list(self.session.scalars(
            select(EventRow).where(col(EventRow.case_id) == row.id).order_by(col(EventRow.seq))))
        case = row_to_case(row, events)
        self._rows[number] = row
        self.touched[number] = case
        return case

    def save(self, case: Case) -> None:
        row = self._rows.get(case.number)
        if row is None:
            raise KeyError(f"case {case.number} was not loaded in this unit of work")
        case_to_row(case, row)
        self.touched[case.number] = case

    def flush_events(self) -> None:
        for number, case in self.touched.items():
            row = self._rows[number]
            case_to_row(case, row)
            assert row.id is not None
            for event in case.new_events:
                self.session.add(event_to_row(row.id, event))
        self.session.flush()

    def next_serial(self, scope: str) -> int:
        upsert_ignore(self.session, CounterRow.__table__, {"scope": scope, "value": 0})
        value = self.session.execute(
            update(CounterRow).where(col(CounterRow.scope) == scope)
            .values(value=CounterRow.value + 1).returning(CounterRow.value)
        ).scalar_one()
        return int(value)

    def open_loads(self, department: str) -> dict[str, int]:
        rows = self.session.execute(
            select(CaseRow.handler, func.count()).where(
                col(CaseRow.department) == department, col(CaseRow.status).in_(_OPEN_VALUES)
            ).group_by(CaseRow.handler)
        ).all()
        return {h: int(n) for h, n in rows if h}

    def last_assigned(self, department: str) -> str | None:
        row = self.session.execute(
            select(EventRow.data).join(CaseRow, col(CaseRow.id) == col(EventRow.case_id))
            .where(col(EventRow.type) == "assigned", col(CaseRow.department) == department)
            .order_by(col(EventRow.id).desc()).limit(1)
        ).scalar_one_or_none()
        if not row:
            return None
        handler = row.get("handler")
        return str(handler) if handler else None

    def duplicate_candidates(self, since: datetime, department: str | None,
                             category: str | None, exclude_user: tuple[str, str],
                             limit: int = 100) -> list[tuple[str, str, str]]:
        """(number, grievance, target) of recent open cases of the same department or
        category, newest first: the only cases a new complaint can duplicate."""
        q = select(CaseRow.number, CaseRow.grievance, CaseRow.target).where(
            col(CaseRow.status).in_(_OPEN_VALUES),
            col(CaseRow.received_at) >= since.astimezone(timezone.utc),
            or_(col(CaseRow.department) == department, col(CaseRow.category) == category),
            ~and_(col(CaseRow.complainant_channel) == exclude_user[0],
                  col(CaseRow.complainant_user) == exclude_user[1]),
        ).order_by(col(CaseRow.id).desc()).limit(limit)
        return [(n, g, t) for n, g, t in self.session.execute(q).all()]

    def briefs(self, numbers: list[str]) -> list[Case]:
        """Cases without their event history (for lists and summaries)."""
        rows = self.session.scalars(select(CaseRow).where(col(CaseRow.number).in_(numbers)))
        by_number = {r.number: row_to_case(r, []) for r in rows}
        return [by_number[n] for n in numbers if n in by_number]

    def for_period(self, start: datetime, end: datetime) -> list[Case]:
        """Cases registered before `end` that were registered in [start, end) or still open
        at `start` (DOMAIN.md §6: a period's table counts earlier open cases cumulatively)."""
        s, e = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
        in_period = select(CaseRow).where(col(CaseRow.received_at) >= s,
                                          col(CaseRow.received_at) < e)
        # earlier cases still open at `start`: open now, or closed since (both indexed)
        earlier = select(CaseRow).where(
            col(CaseRow.received_at) < s,
            or_(col(CaseRow.status).in_(_OPEN_VALUES + ["resolved"]),
                col(CaseRow.closed_at) >= s))
        rows = [*self.session.scalars(in_period), *self.session.scalars(earlier)]
        rows.sort(key=lambda r: r.id or 0)
        return self.load_many(rows, with_events=lambda r: r.tier in ("热点", "重大"))

    def root_causes(self, start: datetime, end: datetime) -> dict[str, str]:
        """Case number -> latest recorded root cause, for cases registered in [start, end)."""
        rows = self.session.execute(
            select(CaseRow.number, EventRow.data).join(CaseRow, col(CaseRow.id) ==
                                                       col(EventRow.case_id))
            .where(col(EventRow.type) == "root_cause",
                   col(CaseRow.received_at) >= start.astimezone(timezone.utc),
                   col(CaseRow.received_at) < end.astimezone(timezone.utc))
            .order_by(col(EventRow.id)))
        return {number: str(data.get("cause")) for number, data in rows}

    def daily_counts(self, now: datetime, day_end: datetime) -> dict[str | None, dict[str, int]]:
        """Per department: new in the last 24 h, due today, overdue, awaiting revisit, open —
        counted in SQL through indexes (the daily check, 日盘点)."""
        n, d = now.astimezone(timezone.utc), day_end.astimezone(timezone.utc)
        open_statuses = [v for v in _OPEN_VALUES if v != "waiting_on_complainant"]
        out: dict[str | None, dict[str, int]] = {}

        def add(key: str, q: Any) -> None:
            for dept, count in self.session.execute(
                    q.group_by(CaseRow.department).with_only_columns(
                        CaseRow.department, func.count())):
                out.setdefault(dept, {}).setdefault(key, 0)
                out[dept][key] += int(count)

        base = select(CaseRow.department)
        add("new", base.where(col(CaseRow.received_at) >= n - timedelta(days=1),
                              col(CaseRow.received_at) <= n))
        add("due_today", base.where(col(CaseRow.status).in_(open_statuses),
                                    col(CaseRow.due_resolution) >= n,
                                    col(CaseRow.due_resolution) <= d))
        add("overdue", base.where(col(CaseRow.status).in_(open_statuses),
                                  col(CaseRow.due_resolution) < n))
        add("awaiting_revisit", base.where(col(CaseRow.status) == "resolved"))
        add("open", base.where(col(CaseRow.status).in_(_OPEN_VALUES)))
        return out

    def overdue_numbers(self, now: datetime, department: str, limit: int = 20) -> list[str]:
        open_statuses = [v for v in _OPEN_VALUES if v != "waiting_on_complainant"]
        return list(self.session.scalars(select(CaseRow.number).where(
            col(CaseRow.status).in_(open_statuses), col(CaseRow.department) == department,
            col(CaseRow.due_resolution) < now.astimezone(timezone.utc),
        ).order_by(col(CaseRow.due_resolution)).limit(limit)))

    # -- sweeps ------------------------------------------------------------------------

    def due_for_check(self, now: datetime, limit: int = 1000) -> list[str]:
        """Numbers of cases whose next timeline step is due (uses ix_cases_next_check_at)."""
        return list(self.session.scalars(
            select(CaseRow.number).where(col(CaseRow.next_check_at) <= now.astimezone(
                timezone.utc)).order_by(col(CaseRow.next_check_at)).limit(limit)))

    def claim_for_sweep(self, number: str, now: datetime) -> bool:
        """Lock a due case for this transaction; False if another sweeper holds it or it is
        no longer due. PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: BEGIN IMMEDIATE already
        serialises writers."""
        q = select(CaseRow.id).where(col(CaseRow.number) == number,
                                     col(CaseRow.next_check_at) <= now.astimezone(timezone.utc))
        if self.session.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        return self.session.execute(q).first() is not None

    # -- queries for the CLI and dialogs (read-only) ----------------------------------

    def list_rows(self, *, status: str | None = None, handler: str | None = None,
                  complainant: tuple[str, str] | None = None, open_only: bool = False,
                  limit: int = 200) -> list[CaseRow]:
        q = select(CaseRow)
        if status:
            q = q.where(col(CaseRow.status) == status)
        if handler:
            q = q.where(col(CaseRow.handler) == handler)
        if complainant:
            q = q.where(col(CaseRow.complainant_channel) == complainant[0],
                        col(CaseRow.complainant_user) == complainant[1])
        if open_only:
            q = q.where(col(CaseRow.status).in_(_OPEN_VALUES + ["resolved"]))
        return list(self.session.scalars(q.order_by(col(CaseRow.id).desc()).limit(limit)))

    def load_many(self, rows: list[CaseRow], with_events: bool | None = None) -> list[Case]:
        """Cases from rows; events loaded for all (default) or only where `with_events`
        says so (a predicate on the row), in chunks that stay under driver limits."""
        if not rows:
            return []
        wanted = [r.id for r in rows if with_events is None or with_events(r)]  # type: ignore[operator]
        events: dict[int, list[EventRow]] = {}
        for i in range(0, len(wanted), 1000):
            chunk = wanted[i:i + 1000]
            for e in self.session.scalars(select(EventRow)
                                          .where(col(EventRow.case_id).in_(chunk))
                                          .order_by(col(EventRow.case_id), col(EventRow.seq))):
                events.setdefault(e.case_id, []).append(e)
        return [row_to_case(r, events.get(r.id or 0, [])) for r in rows]


_SEEN = InboundSeenRow.__table__
_STATE = DialogStateRow.__table__
_IDENT = IdentityRow.__table__
# Statements of the per-message path, built once (bind parameters filled at execution)
_GET_STATE = select(_STATE.c.flow, _STATE.c.step, _STATE.c.language, _STATE.c.data,
                    _STATE.c.updated_at).where(_STATE.c.channel == bindparam("channel"),
                                               _STATE.c.user_id == bindparam("user_id"))
_KEEP_REPLIES = update(_SEEN).where(_SEEN.c.channel == bindparam("b_channel"),
                                    _SEEN.c.update_id == bindparam("b_update_id"))
_STAFF_FOR = select(_IDENT.c.staff_id).where(_IDENT.c.channel == bindparam("channel"),
                                              _IDENT.c.address == bindparam("address"),
                                              _IDENT.c.role == "staff")
_STATE_COLUMNS = ("flow", "step", "language", "data", "updated_at")


def _state_upsert(dialect: str) -> Any:
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = ins(_STATE)
    return stmt.on_conflict_do_update(index_elements=["channel", "user_id"],
                                      set_={k: stmt.excluded[k] for k in _STATE_COLUMNS})


def _seen_insert(dialect: str) -> Any:
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    return ins(_SEEN).on_conflict_do_nothing().returning(_SEEN.c.channel)


_UPSERTS: dict[str, Any] = {}


def _prebuilt(kind: str, dialect: str) -> Any:
    key = f"{kind}:{dialect}"
    if key not in _UPSERTS:
        _UPSERTS[key] = (_state_upsert if kind == "state" else _seen_insert)(dialect)
    return _UPSERTS[key]


@dataclass
class DialogState:
    """One person's conversation state on one channel (the `dialog_states` row)."""

    channel: str
    user_id: str
    flow: str | None = None
    step: str | None = None
    language: str = "zh-CN"
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None


class SqlDialogRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, channel: str, user_id: str) -> DialogState | None:
        row = self.session.connection().execute(
            _GET_STATE, {"channel": channel, "user_id": user_id}).first()
        if row is None:
            return None
        return DialogState(channel, user_id, row.flow, row.step, row.language,
                           dict(row.data or {}), row.updated_at)

    def save(self, state: DialogState) -> None:
        """Insert or replace the state (Core upsert: this runs for every inbound message)."""
        values = {"channel": state.channel, "user_id": state.user_id, "flow": state.flow,
                  "step": state.step, "language": state.language, "data": state.data,
                  "updated_at": state.updated_at}
        self.session.connection().execute(
            _prebuilt("state", self.session.get_bind().dialect.name), values)

    def seen(self, channel: str, update_id: str, now: datetime) -> bool:
        """Record an update id; True when it had been seen before (a redelivery)."""
        inserted = self.session.connection().execute(
            _prebuilt("seen", self.session.get_bind().dialect.name),
            {"channel": channel, "update_id": update_id, "seen_at": now}).first()
        return inserted is None

    def replies_of(self, channel: str, update_id: str) -> list[Any]:
        row = self.session.get(InboundSeenRow, (channel, update_id))
        return list(row.replies or []) if row is not None else []

    def keep_replies(self, channel: str, update_id: str, replies: list[Any]) -> None:
        self.session.connection().execute(
            _KEEP_REPLIES, {"b_channel": channel, "b_update_id": update_id, "replies": replies})


class SqlMarks:
    """One-off markers (e.g. "the November monthly digest is written") in the meta table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def has(self, key: str) -> bool:
        return self.session.get(MetaRow, key) is not None

    def mark(self, key: str, value: str = "") -> bool:
        return upsert_ignore(self.session, MetaRow.__table__, {"key": key, "value": value})


class SqlDirectory:
    """Staff records, linked chat identities and one-time invite codes."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def staff(self) -> list[StaffRow]:
        return list(self.session.scalars(select(StaffRow).order_by(col(StaffRow.id))))

    def add_staff(self, row: StaffRow) -> None:
        self.session.merge(row)

    def identities_of(self, staff_id: str) -> list[IdentityRow]:
        return list(self.session.scalars(select(IdentityRow).where(
            col(IdentityRow.staff_id) == staff_id, col(IdentityRow.role) == "staff",
            col(IdentityRow.reachable).is_(True))))

    def staff_for(self, channel: str, address: str) -> str | None:
        row = self.session.connection().execute(
            _STAFF_FOR, {"channel": channel, "address": address}).first()
        return row[0] if row is not None else None

    def manager_groups(self) -> list[IdentityRow]:
        return list(self.session.scalars(select(IdentityRow).where(
            col(IdentityRow.role) == "managers_group", col(IdentityRow.reachable).is_(True))))

    def is_manager_group(self, channel: str, address: str) -> bool:
        row = self.session.get(IdentityRow, (channel, address))
        return row is not None and row.role == "managers_group"

    def link(self, channel: str, address: str, staff_id: str | None, role: str,
             now: datetime) -> None:
        self.session.merge(IdentityRow(channel=channel, address=address, staff_id=staff_id,
                                       role=role, reachable=True, linked_at=now))

    def mark_unreachable(self, channel: str, address: str) -> bool:
        row = self.session.get(IdentityRow, (channel, address))
        if row is None or not row.reachable:
            return False
        row.reachable = False
        return True

    def add_invite(self, code: str, staff_id: str | None, role: str, now: datetime) -> None:
        self.session.add(InviteRow(code=code, staff_id=staff_id, role=role, created_at=now))

    def use_invite(self, code: str, by: str, now: datetime) -> InviteRow | None:
        """Consume a one-time code; None when unknown or already used."""
        row = self.session.get(InviteRow, code)
        if row is None or row.used_at is not None:
            return None
        row.used_at = now
        row.used_by = by
        return row
