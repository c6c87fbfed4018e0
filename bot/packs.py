"""Loading an organisation pack (packs/<id>/pack.yaml) into core.pack.Pack.

A bad pack file gets an error that names the file, the line and the field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.pack import (
    BusinessHours,
    CalendarSpec,
    Category,
    Department,
    DigestSchedule,
    Duration,
    EscalationStep,
    Pack,
    Role,
    SlaPolicy,
    SlaRule,
    StaffMember,
    Unit,
)

PACKS_DIR = Path(__file__).resolve().parent.parent / "packs"
TIERS = ("一般", "重要", "热点", "重大")


class PackError(Exception):
    """A pack file that can't be used; the message names file, line and field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Duration(_Model):
    amount: int = Field(ge=0)
    unit: Unit


class _Rule(_Model):
    category: str | None = None
    tier: Literal["一般", "重要", "热点", "重大"] | None = None
    first_response: _Duration | None = None
    resolution: _Duration | None = None


class _Sla(_Model):
    first_response: _Duration
    resolution: _Duration
    rules: list[_Rule] = []


class _Hours(_Model):
    start: dt.time
    end: dt.time


class _Calendar(_Model):
    official: Literal["cn"] | None = "cn"
    holidays: list[dt.date] = []
    workdays: list[dt.date] = []
    business_hours: _Hours | None = None


class _Department(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    name_en: str = ""
    aliases: list[str] = []
    head: str | None = None


class _Staff(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_.-]*$")
    name: str = Field(min_length=1)
    department: str | None = None
    roles: list[Role] = [Role.HANDLER]
    active: bool = True
    see_phone: bool = False
    aliases: list[str] = []
    wecom_userid: str | None = None


class _Category(_Model):
    name: str = Field(min_length=1)
    name_en: str = ""
    department: str
    keywords: list[str] = []


class _Step(_Model):
    percent: int = Field(gt=0)
    to: Literal["handler", "head", "managers", "director"]


class _Digests(_Model):
    daily: dt.time = dt.time(8, 30)
    weekly_weekday: int = Field(default=0, ge=0, le=6)
    weekly: dt.time = dt.time(9, 0)
    monthly_day: int = Field(default=1, ge=1, le=28)
    monthly: dt.time = dt.time(9, 0)


class _Pack(_Model):
    model_config = ConfigDict(extra="allow")  # channel sections (wechat:, telegram:) live here too

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str
    name_en: str = ""
    locale: Literal["zh-CN", "en"] = "zh-CN"
    timezone: str = "Asia/Shanghai"
    numbering: str = "{yy}{mm}-{serial:04d}"
    numbering_reset: Literal["monthly", "yearly", "never"] = "monthly"
    routing_strategy: Literal["round_robin", "least_loaded"] = "round_robin"
    calendar: _Calendar = _Calendar()
    sla: _Sla
    revisit_delay: _Duration = _Duration(amount=1, unit=Unit.WORKING_DAYS)
    revisit_window_days: int = Field(default=7, ge=1)
    reminders: list[int] = [50, 90]
    escalation: list[_Step] = [_Step(percent=100, to="head"), _Step(percent=150, to="managers"),
                               _Step(percent=200, to="director")]
    departments: list[_Department] = Field(min_length=1)
    staff: list[_Staff] = []
    categories: list[_Category] = Field(min_length=1)
    texts: dict[Literal["zh-CN", "en"], dict[str, str]] = {}
    digests: _Digests = _Digests()
    households: int | None = Field(default=None, gt=0)

    @field_validator("numbering")
    @classmethod
    def _numbering(cls, v: str) -> str:
        if "{serial" not in v:
            raise ValueError("numbering must contain {serial}, e.g. {yy}{mm}-{serial:04d}")
        return v


@dataclass(frozen=True)
class LoadedPack:
    pack: Pack
    dir: Path
    raw: dict[str, Any]


def resolve_pack_dir(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path.parent
    if path.is_dir():
        return path
    candidate = PACKS_DIR / name_or_path
    if candidate.is_dir():
        return candidate
    known = ", ".join(sorted(p.name for p in PACKS_DIR.iterdir() if (p / "pack.yaml").exists()))
    raise PackError(f"no pack named {name_or_path!r}; known packs: {known}")


def load_pack(name_or_path: str) -> LoadedPack:
    directory = resolve_pack_dir(name_or_path)
    file = directory / "pack.yaml" if Path(name_or_path).is_dir() or not Path(
        name_or_path).is_file() else Path(name_or_path)
    text = file.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise PackError(f"{file}: not valid YAML: {exc}") from exc
    if node is None:
        raise PackError(f"{file}: the file is empty")
    lines: dict[tuple[Any, ...], int] = {}
    _index_lines(node, (), lines)
    raw = yaml.safe_load(text)
    try:
        model = _Pack.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        line = _nearest_line(loc, lines)
        field = ".".join(str(p) for p in loc) or "(top level)"
        raise PackError(f"{file}:{line}: field '{field}': {err['msg']}") from exc
    pack = _to_pack(model)
    _check_references(pack, file, lines)
    return LoadedPack(pack=pack, dir=directory, raw=raw)


def _index_lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            out[child] = key.start_mark.line + 1
            _index_lines(value, child, out)
            out[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), out)


def _nearest_line(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return 1


def _to_pack(m: _Pack) -> Pack:
    cal = m.calendar
    return Pack(
        id=m.id, name=m.name, name_en=m.name_en, locale=m.locale, timezone=m.timezone,
        numbering=m.numbering, numbering_reset=m.numbering_reset,
        routing_strategy=m.routing_strategy,
        departments=tuple(Department(d.id, d.name, d.name_en, tuple(d.aliases), d.head)
                          for d in m.departments),
        staff=tuple(StaffMember(s.id, s.name, s.department, frozenset(s.roles), s.active,
                                s.see_phone, tuple(s.aliases)) for s in m.staff),
        categories=tuple(Category(c.name, c.department, c.name_en, tuple(c.keywords))
                         for c in m.categories),
        sla=SlaPolicy(
            first_response=_dur(m.sla.first_response), resolution=_dur(m.sla.resolution),
            rules=tuple(SlaRule(r.category, r.tier,
                                _dur(r.first_response) if r.first_response else None,
                                _dur(r.resolution) if r.resolution else None)
                        for r in m.sla.rules),
        ),
        calendar=CalendarSpec(
            official=cal.official, holidays=frozenset(cal.holidays),
            workdays=frozenset(cal.workdays),
            business_hours=BusinessHours(cal.business_hours.start, cal.business_hours.end)
            if cal.business_hours else None,
        ),
        revisit_delay=_dur(m.revisit_delay),
        revisit_window_days=m.revisit_window_days,
        reminders=tuple(m.reminders),
        escalation=tuple(EscalationStep(s.percent, s.to) for s in m.escalation),
        texts={k: dict(v) for k, v in m.texts.items()},
        digests=DigestSchedule(m.digests.daily, m.digests.weekly_weekday, m.digests.weekly,
                               m.digests.monthly_day, m.digests.monthly),
        households=m.households,
    )


def _dur(d: _Duration) -> Duration:
    return Duration(d.amount, d.unit)


def _check_references(pack: Pack, file: Path, lines: dict[tuple[Any, ...], int]) -> None:
    """Cross-field checks pydantic can't see: unknown departments, heads, categories."""
    dept_ids = {d.id for d in pack.departments}
    staff_ids = {s.id for s in pack.staff}

    def fail(loc: tuple[Any, ...], msg: str) -> None:
        field = ".".join(str(p) for p in loc)
        raise PackError(f"{file}:{_nearest_line(loc, lines)}: field '{field}': {msg}")

    seen: set[str] = set()
    for i, d in enumerate(pack.departments):
        if d.id in seen:
            fail(("departments", i, "id"), f"duplicate department id {d.id!r}")
        seen.add(d.id)
        if d.head and d.head not in staff_ids:
            fail(("departments", i, "head"), f"unknown staff id {d.head!r}")
    seen = set()
    for i, s in enumerate(pack.staff):
        if s.id in seen:
            fail(("staff", i, "id"), f"duplicate staff id {s.id!r}")
        seen.add(s.id)
        if s.department and s.department not in dept_ids:
            fail(("staff", i, "department"), f"unknown department {s.department!r}; "
                 f"known: {', '.join(sorted(dept_ids))}")
    names = set()
    for i, c in enumerate(pack.categories):
        if c.department not in dept_ids:
            fail(("categories", i, "department"), f"unknown department {c.department!r}; "
                 f"known: {', '.join(sorted(dept_ids))}")
        names.add(c.name)
    for i, r in enumerate(pack.sla.rules):
        if r.category and r.category not in names:
            fail(("sla", "rules", i, "category"), f"unknown category {r.category!r}")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(pack.timezone)
    except Exception:
        fail(("timezone",), f"unknown time zone {pack.timezone!r}")
