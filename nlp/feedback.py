"""Keyword changes proposed from corrections by complainants and transfers by staff."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.pack import Pack
from nlp.keywords import merged_weights
from nlp.runtime import pack_keywords, pack_tokenizer

MIN_SUPPORT = 2


@dataclass(frozen=True)
class FeedbackSample:
    text: str
    predicted: str | None  # what the bot suggested
    corrected: str  # what the complainant chose or where staff transferred the case


@dataclass(frozen=True)
class KeywordSuggestion:
    action: str  # "add" (new keyword for category) | "lower" (keyword misleads toward category)
    category: str
    keyword: str
    weight: float  # suggested weight ("add") or suggested reduction ("lower")
    support: int  # how many samples back it
    reason: str


def suggest_keywords(
    pack: Pack,
    samples: Iterable[FeedbackSample],
    pack_dir: Path | None = None,
    min_support: int = MIN_SUPPORT,
) -> list[KeywordSuggestion]:
    """Words that keep appearing in texts corrected to a category but are not its keywords
    ("add"), and keywords of the wrongly predicted category found in those texts ("lower")."""
    tok = pack_tokenizer(pack, pack_dir)
    weights = merged_weights(pack, pack_keywords(pack, pack_dir))
    names = {c.name for c in pack.categories}
    to_cat: dict[str, Counter[str]] = defaultdict(Counter)
    misleading: dict[str, Counter[str]] = defaultdict(Counter)
    total: Counter[str] = Counter()
    n_samples = 0
    for s in samples:
        if s.corrected not in names or s.corrected == s.predicted:
            continue
        n_samples += 1
        words = {t for t in tok.tokens(s.text) if len(t) >= 2 and not t.isdigit()}
        to_cat[s.corrected].update(words)
        total.update(words)
        if s.predicted in weights:
            for w in words & set(weights[s.predicted]):
                misleading[s.predicted][w] += 1
    out: list[KeywordSuggestion] = []
    for cat, counter in to_cat.items():
        for word, n in counter.items():
            if n < min_support or word in weights.get(cat, {}):
                continue
            share = n / total[word]  # how specific the word is to this correction target
            if share < 0.6:
                continue
            weight = round(min(3.0, 1.0 + math.log(n) * share), 2)
            out.append(KeywordSuggestion(
                "add", cat, word, weight, n, f"in {n} texts corrected to {cat}"))
    for cat, counter in misleading.items():
        for word, n in counter.items():
            if n >= min_support:
                out.append(KeywordSuggestion(
                    "lower", cat, word, round(min(weights[cat][word], 0.5 * n), 2), n,
                    f"led {n} texts to {cat} that were corrected elsewhere"))
    out.sort(key=lambda s: (-s.support, s.action, s.category, s.keyword))
    return out
