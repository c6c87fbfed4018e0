"""The port through which core asks for a category suggestion. nlp/ implements it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class SeveritySignal:
    """Something in the text that raises the tier or needs an urgent response."""

    kind: str  # "media" | "legal" | "collective" | "injury" | "urgent_onsite" | "emergency"
    tier: str | None  # the tier it implies ("热点", "重大", ...) or None
    keyword: str  # the words that triggered it
    response_minutes: int | None = None  # on-site response time it asks for (30, 60)


@dataclass(frozen=True)
class ScoredCategory:
    category: str
    score: float


@dataclass(frozen=True)
class Classification:
    category: str | None  # best category, None when nothing matched at all
    department: str | None  # department id
    confidence: float  # 0..1, calibrated
    keywords: tuple[str, ...] = ()  # the matched words that explain the choice ("why")
    ranking: tuple[ScoredCategory, ...] = ()  # all candidates, best first
    signals: tuple[SeveritySignal, ...] = ()
    department_from_target: bool = False  # department came from "whom is it about"
    extra: dict[str, object] = field(default_factory=dict)


class Classifier(Protocol):
    def classify(
        self, text: str, *, title: str | None = None, target: str | None = None
    ) -> Classification:
        """Suggest a category and department for the complaint text.

        `title` is the first message or subject line (weighted more); `target` is the
        complainant's answer to "whom or what is it about".
        """
        ...
