"""The Case aggregate: states, tiers, outcomes and the immutable events of DOMAIN.md §3 and §5."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    REGISTERED = "registered"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting_on_complainant"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    NOT_ACCEPTED = "not_accepted"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"


TERMINAL = frozenset({Status.CLOSED, Status.NOT_ACCEPTED, Status.WITHDRAWN, Status.MERGED})
OPEN = frozenset(Status) - TERMINAL - {Status.RESOLVED}

_S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    _S.REGISTERED: frozenset({_S.ASSIGNED, _S.NOT_ACCEPTED, _S.WITHDRAWN, _S.MERGED}),
    _S.ASSIGNED: frozenset(
        {_S.ASSIGNED, _S.ACCEPTED, _S.NOT_ACCEPTED, _S.WITHDRAWN, _S.MERGED}
    ),
    _S.ACCEPTED: frozenset(
        {_S.IN_PROGRESS, _S.WAITING, _S.RESOLVED, _S.ASSIGNED, _S.WITHDRAWN, _S.MERGED}
    ),
    _S.IN_PROGRESS: frozenset(
        {_S.IN_PROGRESS, _S.WAITING, _S.RESOLVED, _S.ASSIGNED, _S.WITHDRAWN, _S.MERGED}
    ),
    _S.WAITING: frozenset({_S.IN_PROGRESS, _S.RESOLVED, _S.ASSIGNED, _S.WITHDRAWN}),
    _S.RESOLVED: frozenset({_S.CLOSED, _S.REOPENED}),
    _S.REOPENED: frozenset({_S.ASSIGNED, _S.WITHDRAWN}),
    _S.CLOSED: frozenset({_S.REOPENED}),
    _S.NOT_ACCEPTED: frozenset(),
    _S.WITHDRAWN: frozenset(),
    _S.MERGED: frozenset(),
}


class Tier(StrEnum):
    """Severity tiers of DOMAIN.md §3, in rising order."""

    GENERAL = "一般"
    IMPORTANT = "重要"
    HOT = "热点"
    MAJOR = "重大"

    @property
    def rank(self) -> int:
        return list(Tier).index(self)

    def at_least(self, other: Tier) -> Tier:
        return self if self.rank >= other.rank else other


class Outcome(StrEnum):
    UPHELD = "支持"
    EXPLAINED = "解释"
    NOT_UPHELD = "不予支持"


class Satisfaction(StrEnum):
    SATISFIED = "满意"
    BASICALLY = "基本满意"
    UNSATISFIED = "不满意"


class Kind(StrEnum):
    COMPLAINT = "投诉"
    SUGGESTION = "建议"
    ENQUIRY = "咨询"


class IllegalTransition(Exception):
    def __init__(self, number: str, current: Status, wanted: Status) -> None:
        super().__init__(f"case {number}: cannot go from {current.value} to {wanted.value}")
        self.current = current
        self.wanted = wanted


@dataclass(frozen=True)
class Event:
    """One recorded fact about a case. Events are appended, never edited or deleted."""

    type: str
    at: datetime
    actor: str  # "complainant", "staff:<id>", "system", "manager:<id>"
    data: dict[str, Any] = field(default_factory=dict)
    seq: int = 0


@dataclass
class Complainant:
    name: str | None
    contact: str | None  # E.164 phone number, or None
    anonymous: bool
    channel: str  # where to reach them
    user_id: str
    language: str = "zh-CN"
    reachable: bool = True


@dataclass
class Evidence:
    kind: str
    ref: str
    name: str | None = None


@dataclass
class Case:
    number: str
    kind: Kind
    complainant: Complainant
    target: str
    grievance: str
    request: str
    received_at: datetime
    channel: str
    status: Status = Status.REGISTERED
    tier: Tier = Tier.GENERAL
    category: str | None = None
    department: str | None = None
    handler: str | None = None
    level: int = 0  # 0 handler, 1 department head, 2 manager, 3 director
    target_staff: str | None = None  # the accused staff member, if the target names one
    evidence: list[Evidence] = field(default_factory=list)
    due_first_response: datetime | None = None
    due_resolution: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: Outcome | None = None
    resolution: str | None = None
    satisfaction: Satisfaction | None = None
    complainants: int = 1  # number of complainants of the same matter
    merged_into: str | None = None
    reopen_count: int = 0
    paused_at: datetime | None = None  # resolution clock paused while waiting on the complainant
    next_check_at: datetime | None = None  # earliest time a sweep may have something to do
    id: int | None = None
    events: list[Event] = field(default_factory=list)  # the stored history, oldest first
    new_events: list[Event] = field(default_factory=list)  # recorded, not yet stored

    # -- recording -------------------------------------------------------------------

    def record(self, type_: str, at: datetime, actor: str, **data: Any) -> Event:
        seq = len(self.events) + len(self.new_events) + 1
        event = Event(type=type_, at=at, actor=actor, data=data, seq=seq)
        self.new_events.append(event)
        return event

    def history(self) -> list[Event]:
        return [*self.events, *self.new_events]

    def move(self, to: Status, at: datetime, actor: str, event: str, **data: Any) -> Event:
        """Change status if the transition is legal, recording `event`."""
        if to not in TRANSITIONS[self.status]:
            raise IllegalTransition(self.number, self.status, to)
        previous = self.status
        self.status = to
        return self.record(event, at, actor, **{"from": previous.value, "to": to.value, **data})

    # -- tiers -------------------------------------------------------------------------

    def raise_tier(self, to: Tier, at: datetime, actor: str, reason: str) -> bool:
        """Raise the tier (never lowers it). Returns True if it changed."""
        if to.rank <= self.tier.rank:
            return False
        previous = self.tier
        self.tier = to
        self.record("tier_raised", at, actor, **{"from": previous.value, "to": to.value},
                    reason=reason)
        return True

    def set_tier_by_manager(self, to: Tier, at: datetime, manager: str, reason: str) -> None:
        """A manager's recorded decision; the only way a tier goes down."""
        if not reason.strip():
            raise ValueError("changing a tier by hand needs a reason")
        previous = self.tier
        self.tier = to
        self.record("tier_set", at, f"staff:{manager}",
                    **{"from": previous.value, "to": to.value}, reason=reason)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN
