"""The Case aggregate: legal transitions only, events for everything, tiers only rise."""

from __future__ import annotations

import pytest

from core.cases.model import (
    TRANSITIONS,
    Case,
    Complainant,
    IllegalTransition,
    Kind,
    Status,
    Tier,
)
from tests.unit.fakes import MONDAY


def new_case() -> Case:
    return Case("2611-0001", Kind.COMPLAINT, Complainant("甲", None, False, "console", "u"),
                "教学部", "作业太多", "减负", MONDAY, "console")


def test_every_status_has_a_transition_entry_and_terminal_states_are_final() -> None:
    assert set(TRANSITIONS) == set(Status)
    for terminal in (Status.NOT_ACCEPTED, Status.WITHDRAWN, Status.MERGED):
        assert TRANSITIONS[terminal] == frozenset()


def test_illegal_transition_is_refused_and_records_nothing() -> None:
    case = new_case()
    with pytest.raises(IllegalTransition):
        case.move(Status.RESOLVED, MONDAY, "system", "resolved")
    assert case.status == Status.REGISTERED and case.new_events == []


def test_each_move_records_an_event_with_from_and_to() -> None:
    case = new_case()
    case.move(Status.ASSIGNED, MONDAY, "system", "assigned", handler="a")
    event = case.new_events[-1]
    assert (event.type, event.actor, event.seq) == ("assigned", "system", 1)
    assert event.data == {"from": "registered", "to": "assigned", "handler": "a"}


def test_tier_only_rises_by_itself_and_a_manager_lowers_it_with_a_reason() -> None:
    case = new_case()
    assert case.raise_tier(Tier.HOT, MONDAY, "system", "media")
    assert not case.raise_tier(Tier.IMPORTANT, MONDAY, "system", "reopened")
    assert case.tier == Tier.HOT
    with pytest.raises(ValueError):
        case.set_tier_by_manager(Tier.GENERAL, MONDAY, "boss", " ")
    case.set_tier_by_manager(Tier.GENERAL, MONDAY, "boss", "误报")
    assert case.tier == Tier.GENERAL
    assert [e.type for e in case.new_events] == ["tier_raised", "tier_set"]


def test_events_are_immutable_values() -> None:
    case = new_case()
    event = case.record("note", MONDAY, "system")
    with pytest.raises(AttributeError):
        event.type = "changed"  # type: ignore[misc]
