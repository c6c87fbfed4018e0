"""SLA deadlines of a case: which durations apply, and when they fall due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.cases.workcal import WorkingCalendar
from core.pack import Duration, SlaPolicy, SlaRule


@dataclass(frozen=True)
class Due:
    """A case's deadlines, aware datetimes in the calendar's time zone."""

    first_response: datetime
    resolution: datetime


def _matches(rule: SlaRule, category: str | None, tier: str) -> bool:
    """Every match field the rule sets equals the case's value; unset fields match anything."""
    return (rule.category is None or rule.category == category) and (
        rule.tier is None or rule.tier == tier
    )


def resolve_durations(
    policy: SlaPolicy, category: str | None, tier: str
) -> tuple[Duration, Duration]:
    """(first response, resolution) durations: the defaults, overridden by matching rules in order.

    Later rules win; a rule only overrides the durations it sets.
    """
    first_response, resolution = policy.first_response, policy.resolution
    for rule in policy.rules:
        if not _matches(rule, category, tier):
            continue
        if rule.first_response is not None:
            first_response = rule.first_response
        if rule.resolution is not None:
            resolution = rule.resolution
    return first_response, resolution


def compute_due(
    policy: SlaPolicy,
    calendar: WorkingCalendar,
    received_at: datetime,
    category: str | None,
    tier: str,
) -> Due:
    """The deadlines of a case received at `received_at` (aware)."""
    first_response, resolution = resolve_durations(policy, category, tier)
    return Due(
        first_response=calendar.add(received_at, first_response),
        resolution=calendar.add(received_at, resolution),
    )


def extend(due_resolution: datetime, calendar: WorkingCalendar, by: Duration) -> datetime:
    """A new resolution deadline `by` after the old one (延期), counted from the old deadline.

    For day units the old deadline's day is not counted, as for any period.
    """
    return calendar.add(due_resolution, by)
