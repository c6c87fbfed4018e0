"""Time-driven steps on a fixed clock: reminders, escalation ladder, tiers by age, revisit."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.cases.model import Outcome, Status, Tier
from core.cases.service import Intake
from core.cases.timeline import due_milestones, next_check
from tests.unit.fakes import MONDAY, TZ, make_service


def _intake(anonymous: bool = False) -> Intake:
    return Intake(channel="console", user_id="u", name=None if anonymous else "甲",
                  contact=None, anonymous=anonymous, target="教学部", grievance="作业太多",
                  request="减负", category="教学管理")


def _sweep(service, uow, number):  # type: ignore[no-untyped-def]
    steps = service.sweep_case(uow, number)
    uow.commit()
    return steps


def test_reminders_then_escalation_ladder_each_once() -> None:
    service, uow, clock = make_service()
    case = service.register(uow, _intake())
    uow.commit()
    start, due = case.received_at, case.due_resolution
    assert due is not None
    # resolution: Mon 23 Nov 09:00 -> Wed 2 Dec 17:00 (weekends-only calendar, 17:00 close)
    assert due == datetime(2026, 12, 2, 17, 0, tzinfo=TZ)
    clock.at = start + (due - start) * 0.5 + timedelta(minutes=1)
    _sweep(service, uow, case.number)
    assert _sweep(service, uow, case.number) == 0  # nothing twice
    types = [(e.type, e.data.get("percent"), e.data.get("deadline_kind")) for e in case.events
             if e.type in ("reminder", "escalated")]
    assert types == [("reminder", 50, "first_response"), ("reminder", 90, "first_response"),
                     ("reminder", 50, "resolution")]
    clock.at = start + (due - start) * 2 + timedelta(minutes=1)  # 200%: downtime, catch up
    _sweep(service, uow, case.number)
    ladder = [(e.data["percent"], e.data["to"], e.data.get("staff"))
              for e in case.events if e.type == "escalated"]
    assert ladder == [(100, "head", "head1"), (150, "managers", None), (200, "director", "boss")]
    assert _sweep(service, uow, case.number) == 0


def test_unresolved_after_a_week_is_hot_and_after_a_month_major_then_weekly_reports() -> None:
    service, uow, clock = make_service()
    case = service.register(uow, _intake())
    service.accept(uow, case.number, case.handler or "")
    uow.commit()
    clock.at = MONDAY + timedelta(days=7, minutes=1)
    _sweep(service, uow, case.number)
    assert case.tier == Tier.HOT
    clock.at = MONDAY + timedelta(days=30, minutes=1)
    _sweep(service, uow, case.number)
    assert case.tier == Tier.MAJOR
    clock.at += timedelta(days=15)
    _sweep(service, uow, case.number)
    _sweep(service, uow, case.number)
    reports = [e.data["week"] for e in case.events if e.type == "major_report"]
    assert reports == [1, 2]


def test_survey_after_one_working_day_one_reminder_and_close_after_seven_days() -> None:
    service, uow, clock = make_service()
    case = service.register(uow, _intake())
    clock.at = datetime(2026, 11, 27, 16, 0, tzinfo=TZ)  # a Friday
    service.resolve(uow, case.number, case.handler or "", Outcome.UPHELD, "已减负")
    uow.commit()
    # one working day, counted like a deadline: by the close of Monday, not on Saturday
    assert next_check(case, service.pack, service.calendar, clock.at) == datetime(
        2026, 11, 30, 17, 0, tzinfo=TZ)
    clock.at = datetime(2026, 11, 30, 17, 0, tzinfo=TZ)
    _sweep(service, uow, case.number)
    clock.at += timedelta(days=3)
    _sweep(service, uow, case.number)
    clock.at += timedelta(days=4)
    _sweep(service, uow, case.number)
    assert [e.type for e in case.events][-3:] == ["survey_sent", "survey_reminder", "closed"]
    assert case.status == Status.CLOSED


def test_anonymous_case_skips_the_survey_and_closes_after_seven_quiet_days() -> None:
    service, uow, clock = make_service()
    case = service.register(uow, _intake(anonymous=True))
    service.resolve(uow, case.number, case.handler or "", Outcome.EXPLAINED, "已说明")
    uow.commit()
    clock.at += timedelta(days=6)
    assert due_milestones(case, service.pack, service.calendar, clock.now()) == []
    clock.at += timedelta(days=1, seconds=1)
    _sweep(service, uow, case.number)
    assert case.status == Status.CLOSED
    assert "survey_sent" not in [e.type for e in case.events]


def test_waiting_on_complainant_suspends_resolution_reminders() -> None:
    service, uow, clock = make_service()
    case = service.register(uow, _intake())
    service.ask_complainant(uow, case.number, case.handler or "", "请补充")
    uow.commit()
    clock.at = MONDAY + timedelta(days=5)
    _sweep(service, uow, case.number)
    assert not [e for e in case.events if e.type == "reminder"
                and e.data["deadline_kind"] == "resolution"]
