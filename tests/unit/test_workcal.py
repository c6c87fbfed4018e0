"""WorkingCalendar: working days, deadlines (民法典 第201–203条) and elapsed working time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.cn_calendar import ChineseOfficialCalendar
from core.cases.workcal import WorkingCalendar
from core.pack import BusinessHours, CalendarSpec, Duration, Unit

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = BusinessHours(start=time(8, 30), end=time(17, 30))  # 9 working hours a day
END = time(23, 59, 59, 999999)


class FakeOfficial:
    """An official calendar that knows `years`: Mon–Fri plus the given exceptions."""

    def __init__(self, exceptions: dict[date, bool] | None = None, years: set[int] | None = None):
        self.exceptions = exceptions or {}
        self.years = years if years is not None else {2025, 2026}

    def is_workday(self, day: date) -> bool | None:
        if day.year not in self.years:
            return None
        return self.exceptions.get(day, day.weekday() < 5)


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


def end_of(y: int, mo: int, d: int, close: time = END) -> datetime:
    return datetime.combine(date(y, mo, d), close, tzinfo=SHANGHAI)


def cal(
    official: FakeOfficial | None = None,
    business_hours: BusinessHours | None = None,
    warnings: list[str] | None = None,
    **days: frozenset[date],
) -> WorkingCalendar:
    sink = warnings if warnings is not None else []
    return WorkingCalendar(
        SHANGHAI,
        official if official is not None else FakeOfficial(),
        business_hours=business_hours,
        warn=sink.append,
        **days,
    )


@pytest.fixture
def real_cn() -> ChineseOfficialCalendar:
    pytest.importorskip("chinese_calendar")
    return ChineseOfficialCalendar()


# --- working days ---------------------------------------------------------------------------


def test_official_holiday_and_make_up_workday() -> None:
    # 2026-06-01 is a Monday, 2026-06-06 a Saturday.
    official = FakeOfficial({date(2026, 6, 1): False, date(2026, 6, 6): True})
    c = cal(official)
    assert not c.is_working_day(date(2026, 6, 1))  # statutory holiday on a weekday
    assert c.is_working_day(date(2026, 6, 6))  # 调休: a Saturday worked
    assert c.is_working_day(date(2026, 6, 2))  # ordinary Tuesday
    assert not c.is_working_day(date(2026, 6, 7))  # ordinary Sunday


def test_own_days_override_official_calendar() -> None:
    official = FakeOfficial({date(2026, 6, 1): False})
    c = cal(
        official,
        workdays=frozenset({date(2026, 6, 1), date(2026, 6, 7)}),  # official holiday, Sunday
        holidays=frozenset({date(2026, 6, 2), date(2026, 6, 7)}),  # Tuesday, and Sunday again
    )
    assert c.is_working_day(date(2026, 6, 1))  # own workday beats the official holiday
    assert not c.is_working_day(date(2026, 6, 2))  # own holiday beats an official workday
    assert c.is_working_day(date(2026, 6, 7))  # own workday wins over own holiday too


def test_unknown_year_falls_back_to_weekends_and_warns_once_per_year() -> None:
    warnings: list[str] = []
    c = cal(FakeOfficial(years={2026}), warnings=warnings)
    assert c.is_working_day(date(2027, 1, 1))  # a Friday; unknown year, so counted as working
    assert not c.is_working_day(date(2027, 1, 2))  # Saturday
    assert c.is_working_day(date(2027, 1, 4))  # Monday
    assert warnings == ["no official holiday data for 2027; counting weekends only"]
    c.is_working_day(date(2028, 3, 1))
    c.is_working_day(date(2028, 3, 2))
    assert len(warnings) == 2 and "2028" in warnings[1]


def test_no_official_calendar_means_weekends_only_without_warnings() -> None:
    warnings: list[str] = []
    c = WorkingCalendar(SHANGHAI, None, warn=warnings.append)
    assert c.is_working_day(date(2026, 10, 1))  # National Day, but no official calendar asked
    assert not c.is_working_day(date(2026, 10, 3))  # Saturday
    assert warnings == []


def test_from_spec_uses_the_spec_days_and_business_hours() -> None:
    spec = CalendarSpec(
        official="cn",
        holidays=frozenset({date(2026, 6, 3)}),
        workdays=frozenset({date(2026, 6, 6)}),
        business_hours=OFFICE,
    )
    c = WorkingCalendar.from_spec(spec, SHANGHAI, FakeOfficial({date(2026, 6, 1): False}))
    assert not c.is_working_day(date(2026, 6, 1))  # from the official calendar
    assert not c.is_working_day(date(2026, 6, 3))  # own holiday
    assert c.is_working_day(date(2026, 6, 6))  # own workday
    assert c.business_hours == OFFICE


def test_from_spec_without_official_ignores_the_given_calendar() -> None:
    spec = CalendarSpec(official=None)
    c = WorkingCalendar.from_spec(spec, SHANGHAI, FakeOfficial({date(2026, 6, 1): False}))
    assert c.is_working_day(date(2026, 6, 1))  # Monday: the official holiday is not used


def test_from_spec_warns_when_the_named_calendar_is_missing() -> None:
    warnings: list[str] = []
    c = WorkingCalendar.from_spec(CalendarSpec(official="cn"), SHANGHAI, None, warnings.append)
    assert len(warnings) == 1 and "'cn'" in warnings[0] and "weekends only" in warnings[0]
    assert not c.is_working_day(date(2026, 6, 6))  # Saturday


def test_business_hours_must_end_after_they_start() -> None:
    with pytest.raises(ValueError):
        cal(business_hours=BusinessHours(start=time(18), end=time(8)))


# --- add: hours -----------------------------------------------------------------------------


def test_hours_are_wall_clock_and_returned_in_the_calendar_zone() -> None:
    # Saturday 2026-06-06 20:00 Shanghai = 12:00 UTC; 4 hours later is midnight in Shanghai,
    # weekends and working days alike.
    start = datetime(2026, 6, 6, 12, 0, tzinfo=UTC)
    due = cal().add(start, Duration(4, Unit.HOURS))
    assert due == at(2026, 6, 7, 0, 0)
    assert due.tzinfo is SHANGHAI


def test_hours_are_real_elapsed_time_across_a_dst_change() -> None:
    # Berlin springs forward on 2026-03-29 at 02:00: 24 real hours after Saturday 12:00 is
    # Sunday 13:00 local time.
    berlin = ZoneInfo("Europe/Berlin")
    c = WorkingCalendar(berlin, None)
    due = c.add(at(2026, 3, 28, 12, tz=berlin), Duration(24, Unit.HOURS))
    assert due == at(2026, 3, 29, 13, tz=berlin)
    assert due.astimezone(UTC) - datetime(2026, 3, 28, 11, tzinfo=UTC) == (timedelta(hours=24))


# --- add: working hours ---------------------------------------------------------------------


def test_working_hours_carry_over_the_weekend_within_business_hours() -> None:
    # Friday 2026-06-05 16:00, 4 working hours: 1.5 h on Friday (to 17:30), the weekend is
    # skipped, 2.5 h on Monday from 08:30 -> Monday 11:00.
    due = cal(business_hours=OFFICE).add(at(2026, 6, 5, 16), Duration(4, Unit.WORKING_HOURS))
    assert due == at(2026, 6, 8, 11, 0)


def test_working_hours_start_at_opening_when_received_outside_business_hours() -> None:
    c = cal(business_hours=OFFICE)
    # Before opening on Tuesday: counting starts at 08:30.
    assert c.add(at(2026, 6, 2, 6), Duration(2, Unit.WORKING_HOURS)) == at(2026, 6, 2, 10, 30)
    # Saturday evening: counting starts Monday 08:30.
    assert c.add(at(2026, 6, 6, 20), Duration(2, Unit.WORKING_HOURS)) == at(2026, 6, 8, 10, 30)


def test_working_hours_that_fill_the_day_end_at_closing_not_next_morning() -> None:
    c = cal(business_hours=OFFICE)
    assert c.add(at(2026, 6, 2, 8, 30), Duration(9, Unit.WORKING_HOURS)) == at(2026, 6, 2, 17, 30)


def test_working_hours_skip_official_holidays() -> None:
    # Monday 2026-06-01 is an official holiday: 2 working hours from Friday 17:00 are
    # 0.5 h on Friday and 1.5 h on Tuesday -> Tuesday 10:00.
    c = cal(FakeOfficial({date(2026, 6, 1): False}), business_hours=OFFICE)
    assert c.add(at(2026, 5, 29, 17), Duration(2, Unit.WORKING_HOURS)) == at(2026, 6, 2, 10)


def test_working_hours_without_business_hours_count_whole_working_days() -> None:
    # Friday 20:00 + 24 working hours: 4 h left on Friday, Saturday and Sunday don't count,
    # the remaining 20 h run on Monday -> Monday 20:00.
    due = cal().add(at(2026, 6, 5, 20), Duration(24, Unit.WORKING_HOURS))
    assert due == at(2026, 6, 8, 20)


def test_zero_working_hours_is_the_start_itself() -> None:
    assert cal().add(at(2026, 6, 6, 20), Duration(0, Unit.WORKING_HOURS)) == at(2026, 6, 6, 20)


# --- add: days and working days -------------------------------------------------------------


def test_working_days_do_not_count_the_day_of_receipt() -> None:
    # Received Monday 2026-06-01 late at night; 2 working days are Tuesday and Wednesday, and
    # the period ends at the end of Wednesday.
    assert cal().add(at(2026, 6, 1, 23, 50), Duration(2, Unit.WORKING_DAYS)) == end_of(2026, 6, 3)


def test_working_days_end_at_closing_time_when_there_are_business_hours() -> None:
    c = cal(business_hours=OFFICE)
    due = c.add(at(2026, 6, 1, 9), Duration(2, Unit.WORKING_DAYS))
    assert due == end_of(2026, 6, 3, close=time(17, 30))


def test_working_days_received_on_a_weekend() -> None:
    # Received Saturday 2026-06-06: Sunday doesn't count; Monday is day 1 -> end of Monday.
    assert cal().add(at(2026, 6, 6, 10), Duration(1, Unit.WORKING_DAYS)) == end_of(2026, 6, 8)


def test_days_are_calendar_days_without_the_day_of_receipt() -> None:
    # Received Monday 2026-06-01; 3 calendar days later is Thursday 06-04, a working day.
    assert cal().add(at(2026, 6, 1, 9), Duration(3, Unit.DAYS)) == end_of(2026, 6, 4)


def test_days_ending_on_a_weekend_move_to_the_next_working_day() -> None:
    # Received Monday 2026-06-01; 5 days later is Saturday 06-06 -> moves to Monday 06-08.
    assert cal().add(at(2026, 6, 1, 9), Duration(5, Unit.DAYS)) == end_of(2026, 6, 8)


def test_days_ending_in_a_holiday_run_move_past_all_of_it() -> None:
    # Received Monday 2026-06-01; 5 days later is Saturday 06-06; Monday 06-08 and Tuesday
    # 06-09 are official holidays, so the period ends on Wednesday 06-10 (at closing time).
    official = FakeOfficial({date(2026, 6, 8): False, date(2026, 6, 9): False})
    c = cal(official, business_hours=OFFICE)
    assert c.add(at(2026, 6, 1, 9), Duration(5, Unit.DAYS)) == end_of(2026, 6, 10, time(17, 30))


def test_zero_days_is_the_end_of_the_day_of_receipt_or_the_next_working_day() -> None:
    c = cal()
    assert c.add(at(2026, 6, 2, 9), Duration(0, Unit.DAYS)) == end_of(2026, 6, 2)
    assert c.add(at(2026, 6, 6, 9), Duration(0, Unit.DAYS)) == end_of(2026, 6, 8)  # Sat -> Mon
    assert c.add(at(2026, 6, 6, 9), Duration(0, Unit.WORKING_DAYS)) == end_of(2026, 6, 8)


def test_receipt_day_is_taken_in_the_calendar_time_zone() -> None:
    # 2026-06-01 17:00 UTC is Tuesday 06-02 01:00 in Shanghai: the receipt day is Tuesday, so
    # 1 working day ends on Wednesday, not Tuesday.
    start = datetime(2026, 6, 1, 17, tzinfo=UTC)
    assert cal().add(start, Duration(1, Unit.WORKING_DAYS)) == end_of(2026, 6, 3)


def test_working_days_in_an_unknown_year_count_weekends_only_and_warn() -> None:
    # Official data stops at 2026. Received Thursday 2026-12-31; 2 working days: Friday
    # 2027-01-01 (unknown year: a plain weekday, though it will surely be New Year's Day) and
    # Monday 2027-01-04.
    warnings: list[str] = []
    c = cal(FakeOfficial(years={2026}), warnings=warnings)
    assert c.add(at(2026, 12, 31, 9), Duration(2, Unit.WORKING_DAYS)) == end_of(2027, 1, 4)
    assert warnings == ["no official holiday data for 2027; counting weekends only"]


def test_naive_datetimes_and_negative_durations_are_rejected() -> None:
    c = cal()
    with pytest.raises(ValueError, match="aware"):
        c.add(datetime(2026, 6, 1, 9), Duration(1, Unit.DAYS))
    with pytest.raises(ValueError, match="negative"):
        c.add(at(2026, 6, 1, 9), Duration(-1, Unit.DAYS))


# --- the real Chinese calendar --------------------------------------------------------------


def test_real_calendar_knows_2026_national_day_and_make_up_days(
    real_cn: ChineseOfficialCalendar,
) -> None:
    c = WorkingCalendar(SHANGHAI, real_cn)
    assert not c.is_working_day(date(2026, 10, 1))  # National Day (Thursday)
    assert not c.is_working_day(date(2026, 10, 7))  # last day of the holiday (Wednesday)
    assert c.is_working_day(date(2026, 9, 20))  # make-up working Sunday
    assert c.is_working_day(date(2026, 10, 10))  # make-up working Saturday
    assert not c.is_working_day(date(2026, 9, 25))  # Mid-Autumn Festival (Friday)


def test_school_resolution_over_national_day_2026(real_cn: ChineseOfficialCalendar) -> None:
    # The school pack allows 7 working days. Received Friday 2026-09-25 (itself the Mid-Autumn
    # Festival holiday; the day of receipt isn't counted anyway). Counting from the next day:
    #   09-26 Sat, 09-27 Sun  Mid-Autumn holiday        -> not counted
    #   09-28 Mon, 09-29 Tue, 09-30 Wed                 -> working days 1, 2, 3
    #   10-01 Thu .. 10-07 Wed  National Day holiday    -> not counted
    #   10-08 Thu, 10-09 Fri                            -> working days 4, 5
    #   10-10 Sat  make-up working day (调休)            -> working day 6
    #   10-11 Sun                                       -> not counted
    #   10-12 Mon                                       -> working day 7: the last day
    # The deadline is the end of Monday 2026-10-12.
    c = WorkingCalendar(SHANGHAI, real_cn)
    due = c.add(at(2026, 9, 25, 10), Duration(7, Unit.WORKING_DAYS))
    assert due == end_of(2026, 10, 12)


def test_days_ending_inside_national_day_2026_move_to_the_day_after(
    real_cn: ChineseOfficialCalendar,
) -> None:
    # The university allows 15 days. Received Wednesday 2026-09-16: day 15 is Thursday 10-01,
    # National Day; the holiday runs to 10-07, so the last day becomes Thursday 10-08.
    c = WorkingCalendar(SHANGHAI, real_cn)
    assert c.add(at(2026, 9, 16, 10), Duration(15, Unit.DAYS)) == end_of(2026, 10, 8)


def test_real_calendar_unknown_year_2027_falls_back_and_warns(
    real_cn: ChineseOfficialCalendar,
) -> None:
    # chinese_calendar has no 2027 data: Friday 2027-01-01 counts as a working day and the
    # caller is told once.
    assert real_cn.is_workday(date(2027, 1, 1)) is None
    warnings: list[str] = []
    c = WorkingCalendar(SHANGHAI, real_cn, warn=warnings.append)
    assert c.is_working_day(date(2027, 1, 1))
    assert not c.is_working_day(date(2027, 1, 2))
    assert warnings == ["no official holiday data for 2027; counting weekends only"]


# --- elapsed time ---------------------------------------------------------------------------


def test_working_time_between_counts_business_hours_only() -> None:
    # Friday 16:00 -> Monday 10:00: 1.5 h on Friday + 1.5 h on Monday.
    c = cal(business_hours=OFFICE)
    assert c.working_time_between(at(2026, 6, 5, 16), at(2026, 6, 8, 10)) == timedelta(hours=3)
    # Entirely outside business hours: nothing.
    assert c.working_time_between(at(2026, 6, 5, 18), at(2026, 6, 8, 8)) == timedelta(0)


def test_working_time_between_whole_days_and_reversed_order() -> None:
    # Friday 12:00 -> Monday 12:00 with no business hours: 12 h Friday + 12 h Monday.
    c = cal()
    a, b = at(2026, 6, 5, 12), at(2026, 6, 8, 12)
    assert c.working_time_between(a, b) == timedelta(hours=24)
    assert c.working_time_between(b, a) == -timedelta(hours=24)


@pytest.mark.parametrize("hours", [1, 4, 9, 13, 40])
@pytest.mark.parametrize("start", [at(2026, 6, 5, 16), at(2026, 6, 6, 3), at(2026, 6, 2, 12, 15)])
def test_working_time_between_inverts_add(start: datetime, hours: int) -> None:
    # However the deadline falls, exactly `hours` of working time lie between start and it.
    c = cal(FakeOfficial({date(2026, 6, 9): False}), business_hours=OFFICE)
    due = c.add(start, Duration(hours, Unit.WORKING_HOURS))
    assert c.working_time_between(start, due) == timedelta(hours=hours)


def test_fraction_elapsed_is_wall_clock_and_may_exceed_one() -> None:
    c = cal()
    start, due = at(2026, 6, 1, 0), at(2026, 6, 11, 0)  # 10 days allowed
    assert c.fraction_elapsed(start, due, at(2026, 5, 31)) == 0.0  # before the start
    assert c.fraction_elapsed(start, due, at(2026, 6, 6)) == pytest.approx(0.5)
    assert c.fraction_elapsed(start, due, at(2026, 6, 10)) == pytest.approx(0.9)
    assert c.fraction_elapsed(start, due, at(2026, 6, 16)) == pytest.approx(1.5)
    # The same instants given in UTC give the same answer.
    utc_now = at(2026, 6, 6).astimezone(UTC)
    assert c.fraction_elapsed(start, due, utc_now) == pytest.approx(0.5)


def test_fraction_elapsed_with_no_time_allowed() -> None:
    c = cal()
    t = at(2026, 6, 1, 9)
    assert c.fraction_elapsed(t, t, t - timedelta(seconds=1)) == 0.0
    assert c.fraction_elapsed(t, t, t) == 1.0


def test_a_calendar_without_any_working_day_fails_instead_of_looping() -> None:
    class NeverWorks:
        def is_workday(self, day: date) -> bool | None:
            return False

    c = WorkingCalendar(SHANGHAI, NeverWorks())
    with pytest.raises(ValueError, match="no working day"):
        c.add(at(2026, 6, 1, 9), Duration(1, Unit.WORKING_DAYS))
