"""Similar open cases about the same target (DOMAIN.md §2: one matter, N complainants)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from core.pack import Pack
from nlp.runtime import pack_tokenizer
from nlp.signals import HOT, MAJOR
from nlp.targets import find_target
from nlp.tokenizer import normalize

DUPLICATE_THRESHOLD = 0.45
HOT_COMPLAINANTS = 3  # 3 different complainants -> 热点
MAJOR_COMPLAINANTS = 10  # 10 -> 重大
_TARGET_RATIO = 85.0


def _bigrams(text: str) -> set[str]:
    chars = [c for c in normalize(text) if c.isalnum()]
    return {chars[i] + chars[i + 1] for i in range(len(chars) - 1)}


def _cosine(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


_FEATURES: dict[tuple[int, str], tuple[frozenset[str], frozenset[str]]] = {}
_FEATURES_MAX = 20_000


def _features(pack: Pack, text: str) -> tuple[frozenset[str], frozenset[str]]:
    """Token set and bigram set of a text, cached: open cases are compared again and again."""
    tok = pack_tokenizer(pack)
    key = (id(tok), text)
    found = _FEATURES.get(key)
    if found is None:
        if len(_FEATURES) >= _FEATURES_MAX:
            _FEATURES.clear()
        found = (frozenset(tok.tokens(text)), frozenset(_bigrams(text)))
        _FEATURES[key] = found
    return found


def similarity(pack: Pack, a: str, b: str) -> float:
    """Similarity of two complaint texts in [0, 1]: jieba token-set cosine blended with
    character-bigram cosine (robust to segmentation differences)."""
    ta, ba = _features(pack, a)
    tb, bb = _features(pack, b)
    return round(0.6 * _cosine(set(ta), set(tb)) + 0.4 * _cosine(set(ba), set(bb)), 4)


def same_target(pack: Pack, a: str | None, b: str | None) -> bool:
    """Fuzzy-equal target answers, or both resolving to the same department / staff member.
    Two empty targets count as the same (the institution as a whole)."""
    a, b = (a or "").strip(), (b or "").strip()
    if not a and not b:
        return True
    if not a or not b:
        return False
    from rapidfuzz import fuzz

    if fuzz.ratio(normalize(a), normalize(b)) >= _TARGET_RATIO:
        return True
    ma, mb = find_target(pack, a), find_target(pack, b)
    # a department and a member of it are not the same target (recusal differs)
    return ma is not None and mb is not None and (ma.kind, ma.id) == (mb.kind, mb.id)


def find_duplicates(
    pack: Pack,
    text: str,
    target: str | None,
    candidates: Sequence[tuple[str, str, str]],
    threshold: float = DUPLICATE_THRESHOLD,
) -> list[tuple[str, float]]:
    """Open cases (case_key, grievance_text, target_text) that look like the same matter,
    best first. The caller passes only open cases of the last 30 days."""
    out: list[tuple[str, float]] = []
    for key, other_text, other_target in candidates:
        if not same_target(pack, target, other_target):
            continue
        score = similarity(pack, text, other_text)
        if score >= threshold:
            out.append((key, score))
    out.sort(key=lambda kv: -kv[1])
    return out


def tier_for_complainants(count: int) -> str | None:
    """The tier a matter reaches with `count` different complainants (DOMAIN.md §3)."""
    if count >= MAJOR_COMPLAINANTS:
        return MAJOR
    if count >= HOT_COMPLAINANTS:
        return HOT
    return None
