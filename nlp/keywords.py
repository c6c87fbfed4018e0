"""The per-pack keyword file (`packs/<id>/keywords.yaml`), a file a person can review.

Format::

    version: 1
    temperature: 1.0          # softmax temperature used to calibrate confidence
    categories:
      收费管理:
        bias: 0.0             # optional prior (log-odds), learned from history
        keywords: {乱收费: 2.5, 退费: 2.0}
    synonyms: {退费: [退钱, 退款]}    # canonical word: variants typed by people
    stopwords: [老师, 孩子]
    seeds: {收费管理: [乱收费, 退费]}  # hand-written hints that `tousu nlp learn` learns from

Keywords of pack.yaml categories are merged in with `DEFAULT_WEIGHT` unless the keyword
file gives them a weight of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.pack import Pack

FILE_NAME = "keywords.yaml"
DEFAULT_WEIGHT = 2.0  # weight of a pack.yaml keyword the keyword file does not mention
DEFAULT_TEMPERATURE = 1.0
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class CategoryKeywords:
    bias: float = 0.0
    keywords: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class KeywordFile:
    categories: Mapping[str, CategoryKeywords] = field(default_factory=dict)
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    stopwords: frozenset[str] = frozenset()
    temperature: float = DEFAULT_TEMPERATURE
    # softmax temperature for a short text without a title (a typed complaint), fitted on the
    # titles of held-out records; None: `temperature` for every text
    temperature_short: float | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    # category -> hand-written seed keywords; `tousu nlp learn` keeps them and learns from them
    seeds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def variant_map(self) -> dict[str, str]:
        """variant -> canonical word."""
        out: dict[str, str] = {}
        for canon, variants in self.synonyms.items():
            for v in variants:
                out[_norm(v)] = _norm(canon)
        return out


def _norm(word: str) -> str:
    return str(word).strip().lower()


def parse_keyword_file(data: Mapping[str, Any] | None) -> KeywordFile:
    data = data or {}
    cats: dict[str, CategoryKeywords] = {}
    for name, body in (data.get("categories") or {}).items():
        if isinstance(body, Mapping) and "keywords" in body:
            kws = body.get("keywords") or {}
            bias = float(body.get("bias", 0.0) or 0.0)
        else:  # short form: category -> {keyword: weight} or [keyword, ...]
            kws, bias = body or {}, 0.0
        if isinstance(kws, Mapping):
            weights = {_norm(k): float(v) for k, v in kws.items()}
        else:
            weights = {_norm(k): DEFAULT_WEIGHT for k in kws}
        cats[str(name)] = CategoryKeywords(bias=bias, keywords=weights)
    synonyms = {
        _norm(k): tuple(_norm(v) for v in (vs or ()))
        for k, vs in (data.get("synonyms") or {}).items()
    }
    return KeywordFile(
        categories=cats,
        synonyms=synonyms,
        stopwords=frozenset(_norm(w) for w in (data.get("stopwords") or ())),
        temperature=float(data.get("temperature", DEFAULT_TEMPERATURE) or DEFAULT_TEMPERATURE),
        temperature_short=(float(data["temperature_short"])
                           if data.get("temperature_short") else None),
        meta=dict(data.get("meta") or {}),
        seeds={
            str(c): tuple(_norm(w) for w in (ws or ()))
            for c, ws in (data.get("seeds") or {}).items()
        },
    )


def load_keyword_file(pack_dir: Path | None) -> KeywordFile:
    """Read `keywords.yaml` of a pack directory; an empty file when there is none."""
    if pack_dir is None:
        return KeywordFile()
    path = Path(pack_dir) / FILE_NAME
    if not path.is_file():
        return KeywordFile()
    with path.open(encoding="utf-8") as fh:
        # libyaml's loader when PyYAML has it: a learned file has ~10k entries, and the pure-
        # Python parser took most of the time to the first classification (0.65 s vs 0.1 s)
        return parse_keyword_file(yaml.load(fh, Loader=_SAFE_LOADER))


def merged_weights(pack: Pack, kwf: KeywordFile) -> dict[str, dict[str, float]]:
    """category -> keyword -> weight, pack.yaml keywords merged with the keyword file.

    A learned file (``meta: {learned: true}``) already weighs the pack.yaml keywords it keeps;
    the others are left out rather than given the default weight.
    """
    out: dict[str, dict[str, float]] = {}
    learned = bool(kwf.meta.get("learned"))
    for cat in pack.categories:
        weights = {} if learned else {_norm(k): DEFAULT_WEIGHT for k in cat.keywords if _norm(k)}
        extra = kwf.categories.get(cat.name)
        if extra is not None:
            weights.update(extra.keywords)
        out[cat.name] = {k: w for k, w in weights.items() if k and w != 0.0}
    return out


def dump_keyword_file(kwf: KeywordFile, path: Path, header: str = "") -> None:
    """Write a keyword file, keywords sorted by weight so a reviewer reads the strongest first."""
    cats: dict[str, Any] = {}
    for name, ck in kwf.categories.items():
        kws = dict(sorted(ck.keywords.items(), key=lambda kv: (-kv[1], kv[0])))
        rounded = {k: round(v, 3) for k, v in kws.items()}
        cats[name] = {"bias": round(ck.bias, 3), "keywords": rounded}
    data: dict[str, Any] = {"version": 1}
    if kwf.meta:
        data["meta"] = dict(kwf.meta)
    data["temperature"] = round(kwf.temperature, 3)
    if kwf.temperature_short is not None:
        data["temperature_short"] = round(kwf.temperature_short, 3)
    data["categories"] = cats
    if kwf.synonyms:
        data["synonyms"] = {k: list(v) for k, v in kwf.synonyms.items()}
    if kwf.stopwords:
        data["stopwords"] = sorted(kwf.stopwords)
    if kwf.seeds:
        data["seeds"] = {c: sorted(ws) for c, ws in kwf.seeds.items()}
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    if header:
        text = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + text
    Path(path).write_text(text, encoding="utf-8")
