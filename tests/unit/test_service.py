"""Case services on in-memory fakes: routing, recusal, extensions, revisit, numbering."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core.cases.model import Outcome, Satisfaction, Status, Tier
from core.cases.numbering import format_number, numbering_scope
from core.cases.service import DomainError, Intake, TierSignal
from tests.unit.fakes import MONDAY, TZ, make_service, small_pack


def intake(**kw: object) -> Intake:
    values: dict[str, object] = dict(channel="console", user_id="u1", name="甲", contact=None,
                                     anonymous=False, target="教学部", grievance="作业太多",
                                     request="减负", category="教学管理")
    values.update(kw)
    return Intake(**values)  # type: ignore[arg-type]


def test_numbers_are_year_month_serial_reset_monthly() -> None:
    service, uow, clock = make_service()
    assert [service.register(uow, intake()).number for _ in range(3)] == [
        "2611-0001", "2611-0002", "2611-0003"]
    clock.at = datetime(2026, 12, 1, 9, tzinfo=TZ)
    assert service.register(uow, intake()).number == "2612-0001"
    assert numbering_scope("yearly", MONDAY, "Asia/Shanghai") == "2026"
    assert format_number("{yyyy}{mm}{dd}-{serial:05d}", MONDAY, 7, "Asia/Shanghai") == \
        "20261123-00007"


def test_round_robin_skips_heads_and_cycles_handlers() -> None:
    service, uow, _ = make_service()
    handlers = [service.register(uow, intake()).handler for _ in range(4)]
    assert handlers == ["a", "b", "c", "a"]


def test_least_loaded_picks_the_handler_with_fewest_open_cases() -> None:
    service, uow, _ = make_service(small_pack("least_loaded"))
    first = service.register(uow, intake())
    second = service.register(uow, intake())
    service.resolve(uow, first.number, "a", Outcome.UPHELD, "done")
    assert (first.handler, second.handler) == ("a", "b")
    # a's only case is resolved: a and c have no open case, b has one; ties go by pack order
    assert service.register(uow, intake()).handler == "a"


def test_accused_is_excluded_and_cannot_act() -> None:
    service, uow, _ = make_service()
    case = service.register(uow, intake(target="甲老师", target_staff="a"))
    assert case.handler == "b"
    with pytest.raises(DomainError) as err:
        service.accept(uow, case.number, "a")
    assert err.value.code == "error.recused"


def test_only_the_handler_or_a_manager_may_act() -> None:
    service, uow, _ = make_service()
    case = service.register(uow, intake())
    with pytest.raises(DomainError) as err:
        service.accept(uow, case.number, "b")
    assert err.value.code == "error.not_your_case"
    service.accept(uow, case.number, "boss")
    assert case.status == Status.ACCEPTED


def test_extension_needs_approval_and_moves_the_deadline_in_working_days() -> None:
    service, uow, _ = make_service()
    case = service.register(uow, intake())
    old_due = case.due_resolution
    service.request_extension(uow, case.number, case.handler or "", 3, "等待检测报告")
    with pytest.raises(DomainError):
        service.request_extension(uow, case.number, case.handler or "", 2, "again")
    with pytest.raises(DomainError) as err:
        service.decide_extension(uow, case.number, "a", 1, True)
    assert err.value.code == "error.managers_only"
    service.decide_extension(uow, case.number, "boss", 1, True)
    assert old_due is not None and case.due_resolution is not None
    # due Wed 2 Dec 17:00 (weekends-only calendar); +3 working days -> Mon 7 Dec 17:00
    assert case.due_resolution.astimezone(TZ) == datetime(2026, 12, 7, 17, 0, tzinfo=TZ)
    approved = [e for e in case.history() if e.type == "extension_approved"][0]
    assert approved.data["approver"] == "boss" and approved.data["reason"] == "等待检测报告"


def test_unsatisfied_reopens_one_level_up_with_tier_at_least_important() -> None:
    service, uow, _ = make_service()
    case = service.register(uow, intake())
    service.resolve(uow, case.number, "a", Outcome.EXPLAINED, "已解释")
    service.rate(uow, case.number, Satisfaction.UNSATISFIED, "没解决")
    assert (case.status, case.tier, case.handler, case.level) == (
        Status.ASSIGNED, Tier.IMPORTANT, "head1", 1)
    service.resolve(uow, case.number, "head1", Outcome.UPHELD, "已整改")
    service.rate(uow, case.number, Satisfaction.UNSATISFIED, "还是不行")
    assert (case.handler, case.level) == ("boss", 2)
    service.resolve(uow, case.number, "boss", Outcome.UPHELD, "园长亲自处理")
    service.rate(uow, case.number, Satisfaction.SATISFIED)
    assert case.status == Status.CLOSED


def test_signals_raise_the_tier_with_the_reason_recorded() -> None:
    service, uow, _ = make_service()
    case = service.register(uow, intake(signals=[TierSignal(Tier.HOT, "media: 曝光")]))
    assert case.tier == Tier.HOT
    raised = [e for e in case.history() if e.type == "tier_raised"][0]
    assert raised.data["reason"] == "media: 曝光"


def test_more_complainants_raise_hot_at_3_and_major_at_10() -> None:
    service, uow, _ = make_service()
    case = service.register(uow, intake())
    for i in range(2):
        service.add_complainant(uow, case.number, f"u{i + 2}")
    assert case.complainants == 3 and case.tier == Tier.HOT
    for i in range(7):
        service.add_complainant(uow, case.number, f"v{i}")
    assert case.complainants == 10 and case.tier == Tier.MAJOR


def test_transfer_requires_reason_and_a_real_other_department() -> None:
    service, uow, _ = make_service()
    case = service.register(uow, intake())
    with pytest.raises(DomainError):
        service.transfer(uow, case.number, "a", "money", " ")
    with pytest.raises(DomainError):
        service.transfer(uow, case.number, "a", "teach", "same")
    with pytest.raises(DomainError):
        service.transfer(uow, case.number, "a", "nowhere", "x")
    service.transfer(uow, case.number, "a", "money", "收费问题")
    assert (case.department, case.handler) == ("money", "m")


def test_waiting_pauses_and_resumes_by_working_time() -> None:
    service, uow, clock = make_service()
    case = service.register(uow, intake())
    due = case.due_resolution
    service.ask_complainant(uow, case.number, "a", "请补充")
    clock.advance(timedelta(days=2))  # Mon 9:00 -> Wed 9:00
    service.complainant_answer(uow, case.number, "补充材料")
    assert due is not None and case.due_resolution is not None
    waited = service.calendar.working_time_between(MONDAY, MONDAY + timedelta(days=2))
    assert waited == timedelta(hours=18)  # Mon 9-17 (8 h) + Tue 8-17 (9 h) + Wed 8-9 (1 h)
    assert case.due_resolution == service.calendar.add_working_time(due, waited)
