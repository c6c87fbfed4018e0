"""Case aggregate <-> table rows."""

from __future__ import annotations

from datetime import datetime, timezone

from core.cases.model import (
    Case,
    Complainant,
    Event,
    Evidence,
    Kind,
    Outcome,
    Satisfaction,
    Status,
    Tier,
)
from storage.tables import CaseRow, EventRow

_CASE_FIELDS = (
    "number", "target", "target_staff", "grievance", "request", "channel", "category",
    "department", "handler", "level", "received_at", "due_first_response", "due_resolution",
    "first_response_at", "resolved_at", "closed_at", "paused_at", "resolution", "complainants",
    "merged_into", "reopen_count", "next_check_at",
)
_TIMES = {"received_at", "due_first_response", "due_resolution", "first_response_at",
          "resolved_at", "closed_at", "paused_at", "next_check_at"}


def aware(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; everything is stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def case_to_row(case: Case, row: CaseRow | None = None) -> CaseRow:
    row = row or CaseRow(number=case.number, kind=case.kind.value, status=case.status.value,
                         tier=case.tier.value, target=case.target, grievance=case.grievance,
                         request=case.request, channel=case.channel,
                         complainant_channel=case.complainant.channel,
                         complainant_user=case.complainant.user_id,
                         received_at=case.received_at)
    for name in _CASE_FIELDS:
        value = getattr(case, name)
        if name in _TIMES and value is not None:
            value = value.astimezone(timezone.utc)
            old = getattr(row, name, None)
            if old is not None and old.tzinfo is None and old.replace(tzinfo=timezone.utc) == value:
                continue  # SQLite hands back naive UTC: unchanged, so don't rewrite the column
        setattr(row, name, value)
    row.kind = case.kind.value
    row.status = case.status.value
    row.tier = case.tier.value
    row.outcome = case.outcome.value if case.outcome else None
    row.satisfaction = case.satisfaction.value if case.satisfaction else None
    c = case.complainant
    row.complainant_name = c.name
    row.complainant_contact = c.contact
    row.anonymous = c.anonymous
    row.complainant_channel = c.channel
    row.complainant_user = c.user_id
    row.complainant_language = c.language
    row.complainant_reachable = c.reachable
    row.evidence = [{"kind": e.kind, "ref": e.ref, "name": e.name} for e in case.evidence]
    return row


def row_to_case(row: CaseRow, events: list[EventRow]) -> Case:
    kwargs = {name: getattr(row, name) for name in _CASE_FIELDS}
    for name in _TIMES:
        kwargs[name] = aware(kwargs[name])
    case = Case(
        kind=Kind(row.kind),
        complainant=Complainant(
            name=row.complainant_name, contact=row.complainant_contact, anonymous=row.anonymous,
            channel=row.complainant_channel, user_id=row.complainant_user,
            language=row.complainant_language, reachable=row.complainant_reachable,
        ),
        status=Status(row.status),
        tier=Tier(row.tier),
        outcome=Outcome(row.outcome) if row.outcome else None,
        satisfaction=Satisfaction(row.satisfaction) if row.satisfaction else None,
        evidence=[Evidence(e["kind"], e["ref"], e.get("name")) for e in row.evidence or []],
        id=row.id,
        events=[event_from_row(e) for e in events],
        **kwargs,
    )
    return case


def event_from_row(row: EventRow) -> Event:
    return Event(type=row.type, at=aware(row.at) or row.at, actor=row.actor, data=row.data or {},
                 seq=row.seq)


def event_to_row(case_id: int, event: Event) -> EventRow:
    return EventRow(case_id=case_id, seq=event.seq, type=event.type,
                    at=event.at.astimezone(timezone.utc), actor=event.actor, data=event.data)
