"""Building and caching the per-pack tokenizer and classifier."""

from __future__ import annotations

from pathlib import Path

from core.pack import Pack
from nlp._cache import per_object
from nlp.classifier import KeywordClassifier
from nlp.keywords import FILE_NAME, KeywordFile, load_keyword_file, merged_weights
from nlp.tokenizer import PackTokenizer

_DEFAULT = "tokenizer-default"


def pack_vocabulary(pack: Pack, keywords: KeywordFile) -> set[str]:
    """Every keyword, category, department, alias and staff name of the pack.

    Of a learned keyword file only the seeds count: its learned keywords include character
    pairs (子回) that must not become jieba words.
    """
    words: set[str] = {str(k).lower() for c in pack.categories for k in c.keywords}
    if keywords.meta.get("learned"):
        for seeds in keywords.seeds.values():
            words.update(seeds)
    else:
        for kws in merged_weights(pack, keywords).values():
            words.update(kws)
    for c in pack.categories:
        words.add(c.name)
    for d in pack.departments:
        words.update((d.name, *d.aliases))
    for s in pack.staff:
        words.update((s.name, *s.aliases))
    return {w for w in words if w and len(w) > 1}


def _dir_key(pack_dir: Path | None) -> tuple[str, float]:
    if pack_dir is None:
        return ("", 0.0)
    path = Path(pack_dir) / FILE_NAME
    mtime = path.stat().st_mtime if path.is_file() else 0.0
    return (str(Path(pack_dir).resolve()), mtime)


def make_tokenizer(pack: Pack, keywords: KeywordFile) -> PackTokenizer:
    return PackTokenizer(
        pack_vocabulary(pack, keywords), keywords.variant_map(), keywords.stopwords
    )


def pack_keywords(pack: Pack, pack_dir: Path | None) -> KeywordFile:
    key = ("keywords", _dir_key(pack_dir))
    return per_object(pack, key, lambda: load_keyword_file(pack_dir))


def pack_tokenizer(pack: Pack, pack_dir: Path | None = None) -> PackTokenizer:
    """The pack's tokenizer; without a directory, the one last built for the pack (if any)."""
    if pack_dir is None:
        return per_object(pack, _DEFAULT, lambda: make_tokenizer(pack, KeywordFile()))
    kwf = pack_keywords(pack, pack_dir)
    tok = per_object(pack, ("tokenizer", _dir_key(pack_dir)), lambda: make_tokenizer(pack, kwf))
    per_object(pack, _DEFAULT, lambda: tok)
    return tok


def build_classifier(pack: Pack, pack_dir: Path | None = None) -> KeywordClassifier:
    """A classifier for the pack; cheap: jieba loads on the first classification."""
    kwf = pack_keywords(pack, pack_dir)
    tok = pack_tokenizer(pack, pack_dir)
    key = ("classifier", _dir_key(pack_dir))
    return per_object(pack, key, lambda: KeywordClassifier(pack, kwf, tok))
