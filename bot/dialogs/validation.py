"""Checks on what people type; each failure carries the catalogue key of a polite answer."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time

import phonenumbers

from core.cases.workcal import WorkingCalendar
from core.pack import Duration, Unit


class InputError(Exception):
    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def _meaningful(text: str) -> bool:
    """True when the text has a letter, digit or CJK character (not only emoji/punctuation)."""
    return any(unicodedata.category(ch)[0] in ("L", "N") for ch in text)


def clean_text(text: str | None, *, max_len: int, min_len: int = 1) -> str:
    value = " ".join((text or "").split()) if "\n" not in (text or "") else (text or "").strip()
    if not value:
        raise InputError("invalid.empty")
    if not _meaningful(value):
        raise InputError("invalid.no_words")
    if len(value) > max_len:
        raise InputError("invalid.too_long", max=max_len, length=len(value))
    if len(value) < min_len:
        raise InputError("invalid.too_short", min=min_len)
    return value


def parse_phone(text: str | None, region: str = "CN") -> str:
    """A valid phone number in E.164 (+8613812345678), or InputError."""
    raw = (text or "").strip()
    if not raw:
        raise InputError("invalid.empty")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InputError("invalid.phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise InputError("invalid.phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str | None) -> str:
    """+8613812345678 -> 138****5678 (national format with the middle hidden)."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, "CN")
        national = str(number.national_number)
    except phonenumbers.NumberParseException:
        national = "".join(ch for ch in e164 if ch.isdigit())
    if len(national) <= 4:
        return "*" * len(national)
    keep = 3 if len(national) >= 11 else 2
    return national[:keep] + "*" * (len(national) - keep - 4) + national[-4:]


def display_phone(e164: str | None) -> str:
    if not e164:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, "CN"),
                                          phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def parse_when(text: str | None, now: datetime, calendar: WorkingCalendar) -> datetime:
    """A promised time typed by staff: "2026-11-27", "11-27", "11-27 15:00", "2026-11-27 15:00",
    or a number of working days ("3"). A date without a time means the end of that day."""
    raw = " ".join((text or "").replace("/", "-").replace("：", ":").split())
    if not raw:
        raise InputError("invalid.empty")
    tz = calendar.tz
    local_now = now.astimezone(tz)
    if raw.isdigit() and 0 < int(raw) <= 60:
        return calendar.add(now, Duration(int(raw), Unit.WORKING_DAYS))
    date_part, _, time_part = raw.partition(" ")
    pieces = date_part.split("-")
    try:
        if len(pieces) == 2:
            pieces = [str(local_now.year), *pieces]
        day = date(int(pieces[0]), int(pieces[1]), int(pieces[2]))
        if time_part:
            hh, _, mm = time_part.partition(":")
            return datetime.combine(day, time(int(hh), int(mm or 0)), tzinfo=tz)
    except (ValueError, IndexError) as exc:
        raise InputError("invalid.when") from exc
    return calendar.end_of_day(day)
