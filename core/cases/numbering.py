"""Case numbers: a configurable format, default year-month-serial reset monthly (2611-0007)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def numbering_scope(reset: str, at: datetime, tz: str) -> str:
    """The counter a serial is drawn from: a new counter each month / year, or one forever."""
    local = at.astimezone(ZoneInfo(tz))
    if reset == "monthly":
        return local.strftime("%Y%m")
    if reset == "yearly":
        return local.strftime("%Y")
    if reset == "never":
        return "all"
    raise ValueError(f"unknown numbering reset {reset!r}: use monthly, yearly or never")


def format_number(pattern: str, at: datetime, serial: int, tz: str) -> str:
    """Format e.g. "{yy}{mm}-{serial:04d}" or "{yyyy}{mm}{dd}-{serial:05d}"."""
    local = at.astimezone(ZoneInfo(tz))
    return pattern.format(
        yyyy=f"{local.year:04d}", yy=f"{local.year % 100:02d}", mm=f"{local.month:02d}",
        dd=f"{local.day:02d}", serial=serial,
    )
