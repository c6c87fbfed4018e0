"""Whom is the complaint about: department names, aliases and staff names, typo-tolerant.

Exact mentions win; otherwise windows of the text are compared with every name by
characters (rapidfuzz) and by pinyin, so homophone typos typed with a pinyin IME
("汪老师" for 王老师, "财物室" for 财务室) still resolve.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from core.pack import Pack
from nlp._cache import per_object
from nlp.tokenizer import normalize

MIN_SCORE = 0.8  # below this a fuzzy match is not a match
_GENERIC = frozenset({"老师", "医生", "护士", "主任", "师傅", "办公室", "保安", "阿姨", "领导"})


@dataclass(frozen=True)
class TargetMatch:
    kind: str  # "department" | "staff"
    id: str
    score: float  # 0..1; 1.0 for an exact mention
    name: str  # the name or alias that matched
    department: str | None = None  # the department it implies


@dataclass(frozen=True)
class _Name:
    text: str
    kind: str
    id: str
    department: str | None


@lru_cache(maxsize=4096)
def _pinyin(text: str) -> str:
    try:
        from pypinyin import lazy_pinyin
    except ImportError:  # pragma: no cover - optional dependency
        return text
    return " ".join(lazy_pinyin(text))


def _names(pack: Pack) -> tuple[_Name, ...]:
    return per_object(pack, "target-names", lambda: _collect_names(pack))


def _collect_names(pack: Pack) -> tuple[_Name, ...]:
    out: list[_Name] = []
    for d in pack.departments:
        for n in (d.name, *d.aliases):
            out.append(_Name(normalize(n), "department", d.id, d.id))
    for s in pack.staff:
        if not s.active:
            continue
        for n in (s.name, *s.aliases):
            out.append(_Name(normalize(n), "staff", s.id, s.department))
    return tuple(n for n in out if n.text and n.text not in _GENERIC)


def _better(a: TargetMatch, b: TargetMatch | None) -> bool:
    if b is None:
        return True
    key_a = (round(a.score, 3), a.kind == "staff", len(a.name))
    key_b = (round(b.score, 3), b.kind == "staff", len(b.name))
    return key_a > key_b


_FOUND: dict[tuple[int, str], TargetMatch | None] = {}
_FOUND_MAX = 20_000


def find_target(pack: Pack, text: str | None) -> TargetMatch | None:
    """The department or staff member the text names, or None when nothing is close enough.
    Cached per pack object: duplicate search asks about the same targets again and again."""
    if not text or not text.strip():
        return None
    key = (id(_names(pack)), text)
    if key in _FOUND:
        return _FOUND[key]
    if len(_FOUND) >= _FOUND_MAX:
        _FOUND.clear()
    found = _find_target(pack, text)
    _FOUND[key] = found
    return found


def _find_target(pack: Pack, text: str) -> TargetMatch | None:
    norm = normalize(text).strip()
    names = _names(pack)
    best: TargetMatch | None = None
    for n in names:  # exact mentions
        if n.text in norm:
            cand = TargetMatch(n.kind, n.id, 1.0, n.text, n.department)
            if _better(cand, best):
                best = cand
    if best is not None:
        return best
    from rapidfuzz import fuzz

    for n in names:
        size = len(n.text)
        if size < 2:
            continue
        target_py = _pinyin(n.text)
        for width in {size - 1, size, size + 1}:
            if width < 2 or width > len(norm):
                continue
            for start in range(0, len(norm) - width + 1):
                window = norm[start : start + width]
                # names of three characters or fewer differ from others by one character
                # (王老师 / 刘老师): only a homophone counts for them
                score = fuzz.ratio(window, n.text) / 100.0 if size > 3 else 0.0
                if score < 0.99 and width == size and _pinyin(window) == target_py:
                    score = max(score, 0.95)  # a homophone typed with a pinyin IME
                if score >= MIN_SCORE:
                    cand = TargetMatch(n.kind, n.id, round(score, 3), n.text, n.department)
                    if _better(cand, best):
                        best = cand
    return best
