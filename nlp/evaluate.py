"""Accuracy of a classifier on labelled samples ({"text", "category" or "label", "title"?})."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nlp.classifier import KeywordClassifier

OTHER = frozenset({"其它", "其他"})


@dataclass
class EvalReport:
    n: int = 0
    correct: int = 0
    top3: int = 0
    errors: list[tuple[str, str, str | None]] = field(default_factory=list)  # text, gold, got

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


def evaluate(clf: KeywordClassifier, samples: Iterable[Mapping[str, Any]]) -> EvalReport:
    """Top-1 accuracy; an unmatched text counts as right when the gold label is 其它
    (the bot then offers the list and routes to 其它 / triage)."""
    rep = EvalReport()
    for s in samples:
        res = clf.classify(s["text"], title=s.get("title"), target=s.get("target"))
        gold = s["category"] if "category" in s else s["label"]
        rep.n += 1
        ok = res.category == gold or (res.category is None and gold in OTHER)
        rep.correct += ok
        rep.top3 += ok or gold in [r.category for r in res.ranking[:3]]
        if not ok:
            rep.errors.append((s["text"], gold, res.category))
    return rep
