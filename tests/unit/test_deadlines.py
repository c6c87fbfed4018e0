"""SLA rule resolution, due dates and extensions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.cn_calendar import ChineseOfficialCalendar
from core.cases.deadlines import Due, compute_due, extend, resolve_durations
from core.cases.workcal import WorkingCalendar
from core.pack import Duration, Pack, SlaPolicy, SlaRule, Unit

SHANGHAI = ZoneInfo("Asia/Shanghai")
END = time(23, 59, 59, 999999)

FOUR_HOURS = Duration(4, Unit.HOURS)
TWO_WD = Duration(2, Unit.WORKING_DAYS)
SEVEN_WD = Duration(7, Unit.WORKING_DAYS)
THREE_WD = Duration(3, Unit.WORKING_DAYS)
FIFTEEN_D = Duration(15, Unit.DAYS)

POLICY = SlaPolicy(
    first_response=FOUR_HOURS,
    resolution=SEVEN_WD,
    rules=(
        SlaRule(category="安全管理", resolution=THREE_WD),
        SlaRule(tier="written", first_response=TWO_WD),
        SlaRule(category="收费管理", tier="serious", resolution=FIFTEEN_D),
        SlaRule(tier="urgent", first_response=Duration(1, Unit.HOURS), resolution=TWO_WD),
    ),
)


def end_of(y: int, mo: int, d: int) -> datetime:
    return datetime.combine(date(y, mo, d), END, tzinfo=SHANGHAI)


def weekends_only() -> WorkingCalendar:
    return WorkingCalendar(SHANGHAI, None)


# --- rule resolution ------------------------------------------------------------------------


def test_defaults_apply_when_no_rule_matches() -> None:
    assert resolve_durations(POLICY, "其他", "normal") == (FOUR_HOURS, SEVEN_WD)


def test_a_rule_overrides_only_the_durations_it_sets() -> None:
    # The 安全管理 rule sets only the resolution; the first response stays the default.
    assert resolve_durations(POLICY, "安全管理", "normal") == (FOUR_HOURS, THREE_WD)


def test_rules_combine_and_later_rules_win() -> None:
    # 安全管理 sets resolution 3 wd; "written" sets first response 2 wd; both apply.
    assert resolve_durations(POLICY, "安全管理", "written") == (TWO_WD, THREE_WD)
    # "urgent" comes last and overrides the 安全管理 resolution.
    assert resolve_durations(POLICY, "安全管理", "urgent") == (Duration(1, Unit.HOURS), TWO_WD)


def test_a_rule_with_two_match_fields_needs_both() -> None:
    assert resolve_durations(POLICY, "收费管理", "serious") == (FOUR_HOURS, FIFTEEN_D)
    assert resolve_durations(POLICY, "收费管理", "normal") == (FOUR_HOURS, SEVEN_WD)
    assert resolve_durations(POLICY, "其他", "serious") == (FOUR_HOURS, SEVEN_WD)


def test_a_category_rule_does_not_match_a_case_without_category() -> None:
    assert resolve_durations(POLICY, None, "normal") == (FOUR_HOURS, SEVEN_WD)


def test_a_rule_without_match_fields_applies_to_every_case() -> None:
    policy = SlaPolicy(FOUR_HOURS, SEVEN_WD, rules=(SlaRule(resolution=FIFTEEN_D),))
    assert resolve_durations(policy, None, "normal") == (FOUR_HOURS, FIFTEEN_D)


# --- compute_due ----------------------------------------------------------------------------


def test_compute_due_applies_the_resolved_durations() -> None:
    # Received Monday 2026-06-01 09:00 (safety category): first response 4 h later at 13:00;
    # resolution 3 working days: Tue, Wed, Thu -> end of Thursday 06-04.
    received = datetime(2026, 6, 1, 9, tzinfo=SHANGHAI)
    due = compute_due(POLICY, weekends_only(), received, "安全管理", "normal")
    assert due == Due(
        first_response=datetime(2026, 6, 1, 13, tzinfo=SHANGHAI), resolution=end_of(2026, 6, 4)
    )


def test_compute_due_with_the_default_school_policy_over_national_day_2026() -> None:
    # The default pack SLA: first response 4 h, resolution 7 working days. Received Friday
    # 2026-09-25 10:00 (Beijing time, given in UTC): first response at 14:00 the same day.
    # Resolution: 09-26/27 are Mid-Autumn holidays, 09-28..30 are days 1–3, 10-01..07 National
    # Day, 10-08/09 days 4–5, Saturday 10-10 a make-up workday (6), Sunday 10-11 off, Monday
    # 10-12 day 7 -> end of 2026-10-12.
    pytest.importorskip("chinese_calendar")
    calendar = WorkingCalendar(SHANGHAI, ChineseOfficialCalendar())
    received = datetime(2026, 9, 25, 2, tzinfo=UTC)
    due = compute_due(Pack(id="school", name="学校").sla, calendar, received, None, "normal")
    assert due.first_response == datetime(2026, 9, 25, 14, tzinfo=SHANGHAI)
    assert due.resolution == end_of(2026, 10, 12)
    assert due.resolution.tzinfo is SHANGHAI


# --- extend ---------------------------------------------------------------------------------


def test_extend_counts_from_the_old_deadline_without_its_day() -> None:
    # Old deadline: end of Thursday 2026-06-04. 3 more working days: Fri 06-05, Mon 06-08,
    # Tue 06-09 -> end of Tuesday.
    assert extend(end_of(2026, 6, 4), weekends_only(), THREE_WD) == end_of(2026, 6, 9)


def test_extend_by_calendar_days_moves_off_a_weekend() -> None:
    # Old deadline: end of Monday 2026-06-01; 5 days later is Saturday 06-06 -> Monday 06-08.
    assert extend(end_of(2026, 6, 1), weekends_only(), Duration(5, Unit.DAYS)) == end_of(2026, 6, 8)
