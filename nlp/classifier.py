"""Keyword classifier: weighted keyword hits -> calibrated category ranking with reasons.

score(c) = bias(c) + sum over matched keywords k of weight(c, k) * value(k)
where value(k) is larger in the title / first sentence (nlp.terms). The weights are those of
the pack's keyword file, learned by a logistic regression (nlp.learn) or written by hand.
confidence = softmax(score / temperature), so a single weak hit among many categories
gives a low confidence and several telling hits a high one. The temperature is fitted on
held-out records; a short untitled text (a typed complaint) gets one fitted on held-out titles.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from core.pack import Pack
from core.routing.classifier import Classification, ScoredCategory
from nlp.keywords import KeywordFile, merged_weights
from nlp.signals import find_signals
from nlp.targets import MIN_SCORE, find_target
from nlp.terms import TermIndex, term_values
from nlp.tokenizer import PackTokenizer

LOW_CONFIDENCE = 0.55  # below this the bot offers the top three categories plus "other"
SHORT_TEXT = 80  # an untitled text up to this long gets the temperature fitted on titles
MAX_REASONS = 8


def is_short(text: str, title: str | None) -> bool:
    """An untitled text short enough to be scored with the temperature fitted on titles."""
    return not title and len(text) <= SHORT_TEXT


@dataclass(frozen=True)
class Scored:
    """Raw scores with the keyword values behind them."""

    scores: tuple[float, ...]
    terms: Mapping[str, float]  # matched keyword -> value (more in the title, for repeats)

    @property
    def matched(self) -> bool:
        return bool(self.terms)


def _reasons(contrib: Mapping[str, float]) -> tuple[str, ...]:
    """The words that explain a category, strongest first: words before single characters,
    and no word that is part of a longer one already given (虫 when 虫子 is there)."""
    pos = sorted((k for k, v in contrib.items() if v > 0), key=lambda k: -contrib[k])
    joined = "\0".join(pos)  # a key found twice in it is part of another key
    words: list[str] = []
    kept: list[str] = []
    for k in pos:
        if joined.count(k) > 1:
            continue
        if len(kept) < MAX_REASONS:
            kept.append(k)
        if len(k) >= 2 and not _NUMERIC.search(k):
            words.append(k)
            if len(words) == MAX_REASONS:
                break
    # single characters and number fragments (三百, 百多) only when nothing better explains it
    return tuple(words or kept)


_DIGITS = "0-9零一二三四五六七八九十百千万两"
_NUMERIC = re.compile(f"[{_DIGITS}]{{2}}|^[{_DIGITS}]")


class KeywordClassifier:
    """Implements core.routing.classifier.Classifier for one pack."""

    def __init__(self, pack: Pack, keywords: KeywordFile, tokenizer: PackTokenizer) -> None:
        self.pack = pack
        self.keywords = keywords
        self.tokenizer = tokenizer
        self.categories = tuple(c.name for c in pack.categories)
        weights = merged_weights(pack, keywords)
        index: dict[str, list[tuple[int, float]]] = {}
        for i, name in enumerate(self.categories):
            for kw, w in weights.get(name, {}).items():
                index.setdefault(kw, []).append((i, w))
        self.index: Mapping[str, tuple[tuple[int, float], ...]] = {
            k: tuple(v) for k, v in index.items()
        }
        self.vocabulary = frozenset(self.index)
        self.by_category: tuple[Mapping[str, float], ...] = tuple(
            weights.get(name, {}) for name in self.categories
        )
        self.terms = TermIndex(self.index, keywords.variant_map(), keywords.stopwords)
        self.bias = tuple(
            (keywords.categories[c].bias if c in keywords.categories else 0.0)
            for c in self.categories
        )
        self.temperature = max(keywords.temperature, 1e-3)
        # A short typed complaint meets few keywords, so its raw scores are closer together
        # than a long post's: with the posts' temperature a right answer would show 30-50%.
        # Keyword files learned from titled posts carry a temperature fitted on titles.
        self.temperature_short = max(keywords.temperature_short or keywords.temperature, 1e-3)

    # -- scoring ---------------------------------------------------------------------------
    def _weighted_terms(self, text: str, title: str | None) -> dict[str, float]:
        return term_values(self.terms, text, title)

    def score(self, text: str, title: str | None = None) -> Scored:
        scores = list(self.bias)
        terms = self._weighted_terms(text, title)
        index = self.index
        for term, factor in terms.items():
            for i, w in index[term]:
                scores[i] += w * factor
        return Scored(tuple(scores), terms)

    def contributions(self, scored: Scored, category: int) -> dict[str, float]:
        """keyword -> its share of one category's score (computed for the reasons shown)."""
        weights = self.by_category[category]
        return {t: weights[t] * f for t, f in scored.terms.items() if t in weights}

    def temperature_for(self, text: str, title: str | None) -> float:
        return self.temperature_short if is_short(text, title) else self.temperature

    def probabilities(self, scored: Scored, temperature: float | None = None) -> list[float]:
        t = temperature or self.temperature
        top = max(scored.scores, default=0.0)
        exps = [math.exp((s - top) / t) for s in scored.scores]
        total = sum(exps) or 1.0
        return [e / total for e in exps]

    # -- the port --------------------------------------------------------------------------
    def classify(
        self, text: str, *, title: str | None = None, target: str | None = None
    ) -> Classification:
        text = text or ""
        scored = self.score(text, title)
        probs = self.probabilities(scored, self.temperature_for(text, title))
        order = sorted(range(len(self.categories)), key=lambda i: (-probs[i], i))
        ranking = tuple(ScoredCategory(self.categories[i], round(probs[i], 4)) for i in order)
        signals = find_signals(f"{title}\n{text}" if title else text)
        extra: dict[str, object] = {}
        category: str | None = None
        confidence = 0.0
        reasons: tuple[str, ...] = ()
        if scored.matched and order:
            best = order[0]
            category = self.categories[best]
            confidence = round(probs[best], 4)
            reasons = _reasons(self.contributions(scored, best))
        extra["low_confidence"] = confidence < LOW_CONFIDENCE
        department = self._department(category)
        from_target = False
        match = find_target(self.pack, target) if target else None
        if match is not None and match.score >= MIN_SCORE and match.department:
            department = match.department
            from_target = True
            extra["target"] = {
                "kind": match.kind, "id": match.id, "score": match.score, "name": match.name
            }
        return Classification(
            category=category,
            department=department,
            confidence=confidence,
            keywords=reasons,
            ranking=ranking,
            signals=signals,
            department_from_target=from_target,
            extra=extra,
        )

    def _department(self, category: str | None) -> str | None:
        if category is None:
            return None
        cat = self.pack.category(category)
        return cat.department if cat else None
