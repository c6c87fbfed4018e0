"""Working calendar: which days are working days, and how SLA durations turn into deadlines.

Day-based periods follow the Chinese period rules (民法典 第201–203条):

- the day the period starts (the day of receipt) is not counted (期间开始之日不计算在内);
- the period ends at the end of its last day, or when business stops if the organisation has
  business hours (有业务时间的，到停止业务活动的时间截止);
- for calendar-day periods, a last day that is not a working day moves to the next working day
  (期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日).

All arithmetic on instants is done in UTC, so it stays right across DST changes in zones that
have them; results are expressed in the calendar's time zone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol

from core.pack import BusinessHours, CalendarSpec, Duration, Unit

_log = logging.getLogger(__name__)

_ONE_DAY = timedelta(days=1)
_END_OF_DAY = time(23, 59, 59, 999999)
_MAX_DAYS_OFF = 366  # more consecutive days off than this means a broken calendar


class OfficialCalendar(Protocol):
    """A public-holiday calendar (e.g. China's, with its swapped workdays 调休)."""

    def is_workday(self, day: date) -> bool | None:
        """True/False for a known day; None when the calendar has no data for its year."""
        ...


def _require_aware(dt: datetime, name: str) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone), got {dt!r}")


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


class WorkingCalendar:
    """Working days and business hours of one organisation, in one time zone."""

    def __init__(
        self,
        tz: tzinfo,
        official: OfficialCalendar | None,
        holidays: frozenset[date] = frozenset(),
        workdays: frozenset[date] = frozenset(),
        business_hours: BusinessHours | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        if business_hours is not None and business_hours.end <= business_hours.start:
            raise ValueError(
                f"business hours must end after they start (same day), got "
                f"{business_hours.start}–{business_hours.end}"
            )
        self.tz = tz
        self.official = official
        self.holidays = holidays
        self.workdays = workdays
        self.business_hours = business_hours
        self._warn: Callable[[str], None] = warn if warn is not None else _log.warning
        self._warned_years: set[int] = set()

    @classmethod
    def from_spec(
        cls,
        spec: CalendarSpec,
        tz: tzinfo,
        official: OfficialCalendar | None,
        warn: Callable[[str], None] | None = None,
    ) -> WorkingCalendar:
        """Build from a pack's CalendarSpec.

        `official` is the calendar named by `spec.official`, resolved by the caller; it is
        ignored when the spec asks for none (weekends only). If the spec names one but none is
        given, the calendar counts weekends only and warns once.
        """
        cal = cls(
            tz,
            official if spec.official is not None else None,
            holidays=spec.holidays,
            workdays=spec.workdays,
            business_hours=spec.business_hours,
            warn=warn,
        )
        if spec.official is not None and official is None:
            cal._warn(
                f"official holiday calendar {spec.official!r} is not available; "
                "counting weekends only"
            )
        return cal

    # --- working days -------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Own workdays win, then own holidays, then the official calendar, then Mon–Fri."""
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        if self.official is not None:
            official = self.official.is_workday(day)
            if official is not None:
                return official
            self._warn_unknown_year(day.year)
        return day.weekday() < 5

    def _warn_unknown_year(self, year: int) -> None:
        if year not in self._warned_years:
            self._warned_years.add(year)
            self._warn(f"no official holiday data for {year}; counting weekends only")

    def next_working_day(self, day: date) -> date:
        """`day` itself if it is a working day, else the first working day after it."""
        for _ in range(_MAX_DAYS_OFF + 1):
            if self.is_working_day(day):
                return day
            day += _ONE_DAY
        raise ValueError(f"calendar has no working day in the {_MAX_DAYS_OFF} days up to {day}")

    # --- deadlines ----------------------------------------------------------------------

    def add(self, start: datetime, d: Duration) -> datetime:
        """The deadline `d` after `start` (aware), expressed in the calendar's time zone.

        A zero-day period ends at the end of the receipt day, moved forward to a working day
        if needed (e.g. "reply the same day").
        """
        _require_aware(start, "start")
        if d.amount < 0:
            raise ValueError(f"a duration cannot be negative, got {d}")
        if d.unit is Unit.HOURS:
            return (_utc(start) + timedelta(hours=d.amount)).astimezone(self.tz)
        if d.unit is Unit.WORKING_HOURS:
            return self.add_working_time(start, timedelta(hours=d.amount))
        receipt_day = start.astimezone(self.tz).date()
        if d.unit is Unit.DAYS:
            last = self.next_working_day(receipt_day + d.amount * _ONE_DAY)
        else:
            last = self._add_working_days(receipt_day, d.amount)
        return self.end_of_day(last)

    def _add_working_days(self, day: date, count: int) -> date:
        """The `count`-th working day after `day` (not counting `day`); 0: next_working_day."""
        if count == 0:
            return self.next_working_day(day)
        for _ in range(count):
            day = self.next_working_day(day + _ONE_DAY)
        return day

    def end_of_day(self, day: date) -> datetime:
        """When a period whose last day is `day` ends: close of business, else 23:59:59.999999."""
        close = self.business_hours.end if self.business_hours is not None else _END_OF_DAY
        return datetime.combine(day, close, tzinfo=self.tz)

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """`start` plus `amount` of working time (e.g. to move a paused deadline)."""
        if amount <= timedelta(0):
            return start.astimezone(self.tz)
        remaining = amount
        cursor = _utc(start)
        for opens, closes in self._windows_from(start.astimezone(self.tz).date()):
            begin = max(cursor, opens)
            if begin >= closes:
                continue
            available = closes - begin
            if remaining <= available:
                return (begin + remaining).astimezone(self.tz)
            remaining -= available
        raise AssertionError("unreachable: working windows never run out")  # pragma: no cover

    # --- elapsed time -------------------------------------------------------------------

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from `a` to `b` (business hours on working days, else whole working days).

        Negative if `b` is before `a`.
        """
        _require_aware(a, "a")
        _require_aware(b, "b")
        if b < a:
            return -self.working_time_between(b, a)
        lo, hi = _utc(a), _utc(b)
        total = timedelta(0)
        for opens, closes in self._windows_from(a.astimezone(self.tz).date()):
            if opens >= hi:
                break
            overlap = min(closes, hi) - max(opens, lo)
            if overlap > timedelta(0):
                total += overlap
        return total

    def fraction_elapsed(self, start: datetime, due: datetime, now: datetime) -> float:
        """Wall-clock share of the time from `start` to `due` that has passed at `now`.

        0.0 before `start`; may exceed 1.0 once overdue (1.5 = half the allowed time late).
        """
        for value, name in ((start, "start"), (due, "due"), (now, "now")):
            _require_aware(value, name)
        allowed = _utc(due) - _utc(start)
        if allowed <= timedelta(0):
            return 1.0 if now >= due else 0.0
        return max(0.0, (_utc(now) - _utc(start)) / allowed)

    # --- helpers ------------------------------------------------------------------------

    def _windows_from(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """Working windows (UTC open, UTC close) of working days from `day` on, endlessly."""
        while True:
            day = self.next_working_day(day)
            yield self._window(day)
            day += _ONE_DAY

    def _window(self, day: date) -> tuple[datetime, datetime]:
        if self.business_hours is None:
            opens = datetime.combine(day, time(0), tzinfo=self.tz)
            closes = datetime.combine(day + _ONE_DAY, time(0), tzinfo=self.tz)
        else:
            opens = datetime.combine(day, self.business_hours.start, tzinfo=self.tz)
            closes = datetime.combine(day, self.business_hours.end, tzinfo=self.tz)
        return _utc(opens), _utc(closes)
