"""Learning signals from the event log: complainants' corrections of the suggested category
and staff transfers (the case belonged to another department)."""

from __future__ import annotations

from collections.abc import Iterator

from core.cases.model import Case
from core.pack import Pack


def feedback_from_cases(pack: Pack, cases: list[Case]) -> Iterator[tuple[str, str | None, str]]:
    """(text, predicted category, corrected category) for every disagreement on record."""
    for case in cases:
        text = case.grievance
        for event in case.history():
            if event.type == "registered":
                info = event.data.get("classification") or {}
                predicted, chosen = info.get("predicted"), info.get("chosen")
                if chosen and predicted != chosen:
                    yield text, predicted, str(chosen)
            elif event.type == "transferred":
                to = event.data.get("to")
                category = next((c.name for c in pack.categories if c.department == to), None)
                if category and category != case.category:
                    yield text, case.category, category
