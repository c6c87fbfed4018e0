"""In-memory implementations of core's ports: core is tested without a database."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from core.cases.model import OPEN, Case
from core.cases.service import CaseService
from core.cases.workcal import WorkingCalendar
from core.clock import FixedClock
from core.pack import (
    BusinessHours,
    CalendarSpec,
    Category,
    Department,
    Duration,
    Pack,
    Role,
    SlaPolicy,
    StaffMember,
    Unit,
)


class FakeCaseRepository:
    def __init__(self) -> None:
        self.rows: dict[str, Case] = {}
        self.counters: dict[str, int] = {}

    def add(self, case: Case) -> None:
        self.rows[case.number] = case

    def get(self, number: str) -> Case | None:
        return self.rows.get(number)

    def save(self, case: Case) -> None:
        self.rows[case.number] = case

    def next_serial(self, scope: str) -> int:
        self.counters[scope] = self.counters.get(scope, 0) + 1
        return self.counters[scope]

    def open_loads(self, department: str) -> dict[str, int]:
        loads: dict[str, int] = {}
        for c in self.rows.values():
            if c.department == department and c.status in OPEN and c.handler:
                loads[c.handler] = loads.get(c.handler, 0) + 1
        return loads

    def last_assigned(self, department: str) -> str | None:
        best: tuple[datetime, int, str] | None = None
        for c in self.rows.values():
            for e in c.history():
                if e.type == "assigned" and e.data.get("department") == department:
                    key = (e.at, e.seq, str(e.data["handler"]))
                    if best is None or key[:2] >= best[:2]:
                        best = key
        return best[2] if best else None


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.cases = FakeCaseRepository()
        self.committed: list[Case] = []

    def commit(self) -> None:
        for case in self.cases.rows.values():
            case.events.extend(case.new_events)
            case.new_events.clear()
        self.committed = [copy.copy(c) for c in self.cases.rows.values()]


TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)


class WeekdaysOnly:
    def is_workday(self, day: object) -> bool | None:
        return None


def small_pack(strategy: str = "round_robin") -> Pack:
    h = frozenset({Role.HANDLER})
    return Pack(
        id="t", name="测试园", routing_strategy=strategy,
        departments=(Department("teach", "教学部", head="head1"),
                     Department("money", "财务室", head="head2"),
                     Department("office", "园办", head="boss")),
        staff=(
            StaffMember("a", "甲老师", "teach", h), StaffMember("b", "乙老师", "teach", h),
            StaffMember("c", "丙老师", "teach", h),
            StaffMember("head1", "教学主任", "teach", frozenset({Role.HEAD, Role.HANDLER})),
            StaffMember("m", "出纳", "money", h),
            StaffMember("head2", "财务主任", "money", frozenset({Role.HEAD, Role.HANDLER})),
            StaffMember("boss", "园长", "office",
                        frozenset({Role.MANAGER, Role.DIRECTOR, Role.HANDLER})),
        ),
        categories=(Category("教学管理", "teach"), Category("收费管理", "money"),
                    Category("其它", "office")),
        sla=SlaPolicy(Duration(4, Unit.HOURS), Duration(7, Unit.WORKING_DAYS)),
        calendar=CalendarSpec(official=None,
                              business_hours=BusinessHours(MONDAY.time().replace(hour=8),
                                                           MONDAY.time().replace(hour=17))),
        revisit_delay=Duration(1, Unit.WORKING_DAYS),
    )


def make_service(pack: Pack | None = None, at: datetime = MONDAY) -> tuple[
        CaseService, FakeUnitOfWork, FixedClock]:
    pack = pack or small_pack()
    clock = FixedClock(at)
    calendar = WorkingCalendar.from_spec(pack.calendar, TZ, None)
    return CaseService(pack, calendar, clock), FakeUnitOfWork(), clock


def utc(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc)


HOUR = timedelta(hours=1)
