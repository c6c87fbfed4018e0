"""Recognising a complainant's correction of the suggested category ("不对，是收费问题")."""

from __future__ import annotations

import re

from core.pack import Pack
from nlp.tokenizer import normalize

_CUE = re.compile(
    r"不对|不是|错了|搞错|弄错|选错|应该是|应该算|其实是|改成|换成|改为|属于|算是"
    r"|是.{1,8}(问题|方面|的事)"
)
_GENERIC = frozenset(
    {"管理", "相关", "建设", "服务", "问题", "其它", "其他", "综合", "和社", "会保", "与信"}
)
_SHORT = 12  # a reply this short may name the category without a cue word
MIN_CONFIDENCE = 0.5


def _stems(name: str) -> list[str]:
    stems = [name]
    if len(name) >= 4:
        stems += [name[:2], name[-2:]]
    return [s for s in stems if s not in _GENERIC]


def parse_correction(pack: Pack, text: str, pack_dir: object = None) -> str | None:
    """The category a correction names, or None when the text is not a correction.

    A category name (or a telling half of it: 收费 for 收费管理) wins; otherwise the part
    after the cue is classified and accepted when the classifier is confident.
    """
    norm = normalize(text or "").strip()
    if not norm:
        return None
    cue = _CUE.search(norm)
    if cue is None and len(norm) > _SHORT:
        return None
    # a negated mention ("不是收费问题") names the wrong category, not the right one
    rest = norm
    neg = re.search(r"不是([^，,。；;]*)[，,。；;]?(.*)$", norm)
    if neg and neg.group(2).strip():
        rest = neg.group(2)
    elif neg:
        return None
    hits: list[tuple[int, int, str]] = []
    for cat in pack.categories:
        for stem in _stems(cat.name):
            pos = rest.find(stem)
            if pos >= 0:
                hits.append((-len(stem), pos, cat.name))
    if hits:
        return sorted(hits)[0][2]
    from pathlib import Path

    from nlp.runtime import build_classifier

    clf = build_classifier(pack, Path(str(pack_dir)) if pack_dir else None)
    body = rest[cue.end():] if cue is not None and cue.end() < len(rest) else rest
    res = clf.classify(body)
    if res.category is not None and res.confidence >= MIN_CONFIDENCE:
        return res.category
    return None
