"""An organisation's setup (a "pack"), as plain immutable data.

Loading and validating the YAML file is done outside core (bot/packs.py); core only
reads these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum


class Unit(StrEnum):
    HOURS = "hours"  # wall-clock hours
    WORKING_HOURS = "working_hours"  # hours inside business hours on working days
    DAYS = "days"  # calendar days; the day of receipt is not counted
    WORKING_DAYS = "working_days"  # working days; the day of receipt is not counted


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: Unit


@dataclass(frozen=True)
class SlaRule:
    """Deadlines that apply when every given match field equals the case's value."""

    category: str | None = None
    tier: str | None = None
    first_response: Duration | None = None
    resolution: Duration | None = None


@dataclass(frozen=True)
class SlaPolicy:
    first_response: Duration
    resolution: Duration
    rules: tuple[SlaRule, ...] = ()


@dataclass(frozen=True)
class BusinessHours:
    start: time
    end: time


@dataclass(frozen=True)
class CalendarSpec:
    official: str | None = "cn"  # "cn": the Chinese public-holiday calendar; None: weekends only
    holidays: frozenset[date] = frozenset()  # the organisation's own days off
    workdays: frozenset[date] = frozenset()  # the organisation's own extra working days
    business_hours: BusinessHours | None = None


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    name_en: str = ""
    aliases: tuple[str, ...] = ()
    head: str | None = None  # staff id of the department head


class Role(StrEnum):
    HANDLER = "handler"
    HEAD = "head"
    MANAGER = "manager"
    DIRECTOR = "director"


@dataclass(frozen=True)
class StaffMember:
    id: str
    name: str
    department: str | None
    roles: frozenset[Role] = frozenset({Role.HANDLER})
    active: bool = True
    see_phone: bool = False  # may see complainants' full phone numbers
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Category:
    name: str  # the category's name as DOMAIN.md spells it (the identifier)
    department: str
    name_en: str = ""
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class EscalationStep:
    """At `percent` of the allowed time, notify `to` ("handler", "head", "managers", "director")."""

    percent: int
    to: str


@dataclass(frozen=True)
class DigestSchedule:
    """When the daily check (日盘点) and the weekly / monthly summaries go out (local time)."""

    daily: time = time(8, 30)
    weekly_weekday: int = 0  # Monday
    weekly: time = time(9, 0)
    monthly_day: int = 1
    monthly: time = time(9, 0)


@dataclass(frozen=True)
class Pack:
    id: str
    name: str
    name_en: str = ""
    locale: str = "zh-CN"
    timezone: str = "Asia/Shanghai"
    numbering: str = "{yy}{mm}-{serial:04d}"
    numbering_reset: str = "monthly"  # monthly | yearly | never
    routing_strategy: str = "round_robin"  # round_robin | least_loaded
    departments: tuple[Department, ...] = ()
    staff: tuple[StaffMember, ...] = ()
    categories: tuple[Category, ...] = ()
    sla: SlaPolicy = field(
        default_factory=lambda: SlaPolicy(
            first_response=Duration(4, Unit.HOURS), resolution=Duration(7, Unit.WORKING_DAYS)
        )
    )
    calendar: CalendarSpec = field(default_factory=CalendarSpec)
    revisit_delay: Duration = Duration(1, Unit.WORKING_DAYS)  # resolution -> revisit survey
    revisit_window_days: int = 7  # no answer (or no revisit needed) -> closed after this
    reminders: tuple[int, ...] = (50, 90)  # percent of the allowed time
    escalation: tuple[EscalationStep, ...] = (
        EscalationStep(100, "head"),
        EscalationStep(150, "managers"),
        EscalationStep(200, "director"),
    )
    texts: dict[str, dict[str, str]] = field(default_factory=dict)  # locale -> key -> text
    digests: DigestSchedule = field(default_factory=DigestSchedule)
    households: int | None = None  # for the complaint rate of property reports

    def department(self, dept_id: str) -> Department | None:
        return next((d for d in self.departments if d.id == dept_id), None)

    def category(self, name: str) -> Category | None:
        return next((c for c in self.categories if c.name == name), None)

    def member(self, staff_id: str) -> StaffMember | None:
        return next((s for s in self.staff if s.id == staff_id), None)

    def managers(self) -> tuple[StaffMember, ...]:
        return tuple(s for s in self.staff if Role.MANAGER in s.roles and s.active)

    def directors(self) -> tuple[StaffMember, ...]:
        return tuple(s for s in self.staff if Role.DIRECTOR in s.roles and s.active)
