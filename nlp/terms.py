"""Finding keyword hits in a text: the features the classifier scores and `learn` trains on.

A keyword hits when it occurs in the normalized text (full-width folded, lower case), as a
whole word or inside a longer one: 收费 hits in 乱收费, 玩手机 in 上课玩手机. Synonyms typed by
people hit as their canonical word. The hits are found in one pass by an Aho-Corasick
automaton (pyahocorasick, built on the first lookup), whatever the size of the vocabulary.

The title (or, without a title, the first sentence) counts more: a keyword's value is the
largest weight of the parts it occurs in, plus a little for each repeat. Above a post of
LONG_TEXT characters the title counts more still (LONG_TITLE_WEIGHT): a long post tells its
story and names many things, and its title says what it is about.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from nlp.tokenizer import normalize

TITLE_WEIGHT = 2.0  # a keyword in the title / first message counts this much
LEAD_WEIGHT = 1.5  # ... in the first sentence, when there is no title
REPEAT_BONUS = 0.25  # each further occurrence (at most two counted)
MAX_REPEATS = 2
LONG_TEXT = 300  # a text longer than this (0: never) is a long post ...
LONG_TITLE_WEIGHT = 3.5  # ... whose title counts this much

_SENTENCE_END = re.compile(r"[。！？!?\n；;]")


class TermIndex:
    """The set of keywords (plus synonym variants) of a classifier, indexed for lookup."""

    def __init__(
        self,
        terms: Iterable[str],
        synonyms: Mapping[str, str] | None = None,
        skip: Iterable[str] = (),
    ) -> None:
        skipped = {normalize(s) for s in skip}
        table: dict[str, str] = {}
        for t in terms:
            t = normalize(t).strip()
            if t and t not in skipped:
                table[t] = t
        for variant, canon in (synonyms or {}).items():
            v, c = normalize(variant).strip(), normalize(canon).strip()
            if v and c in table and v not in table:
                table[v] = c
        self.table = table
        lengths: dict[str, set[int]] = {}
        for surface in table:
            lengths.setdefault(surface[0], set()).add(len(surface))
        self.lengths = {ch: tuple(sorted(ls)) for ch, ls in lengths.items()}
        self._automaton: Any = None

    def __len__(self) -> int:
        return len(self.table)

    def find(self, text: str) -> list[str]:
        """Canonical keywords occurring in `text` (already normalized), with repeats."""
        if not self.table:
            return []
        automaton = self._automaton if self._automaton is not None else self._build()
        return [canon for _, canon in automaton.iter(text)]

    def _build(self) -> Any:
        import ahocorasick

        automaton = ahocorasick.Automaton()
        for surface, canon in self.table.items():
            automaton.add_word(surface, canon)
        automaton.make_automaton()
        self._automaton = automaton
        return automaton


def split_parts(text: str, title: str | None) -> list[tuple[str, float]]:
    """(normalized part, weight): title and text, or the first sentence and the rest."""
    body = normalize(text or "").strip()
    if title:
        long_post = 0 < LONG_TEXT < len(body)
        return [(normalize(title).strip(), LONG_TITLE_WEIGHT if long_post else TITLE_WEIGHT),
                (body, 1.0)]
    m = _SENTENCE_END.search(body)
    if m and m.end() < len(body):
        return [(body[: m.end()], LEAD_WEIGHT), (body[m.end() :], 1.0)]
    return [(body, 1.0)]


_BONUS = tuple(REPEAT_BONUS * min(n, MAX_REPEATS) for n in range(MAX_REPEATS + 1))


def term_values(index: TermIndex, text: str, title: str | None = None) -> dict[str, float]:
    """keyword -> value: the largest part weight it occurs in, plus a bonus per repeat."""
    best: dict[str, float] = {}
    counts: Counter[str] = Counter()
    # heaviest part first: a keyword's value is that of the first part it occurs in
    for part, weight in sorted(split_parts(text, title), key=lambda pw: -pw[1]):
        if not part:
            continue
        found = index.find(part)
        counts.update(found)
        for term in found:
            if term not in best:
                best[term] = weight
    top = _BONUS[-1]
    return {
        t: w + (_BONUS[counts[t] - 1] if counts[t] <= MAX_REPEATS else top)
        for t, w in best.items()
    }
