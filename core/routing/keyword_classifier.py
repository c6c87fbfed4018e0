"""A plain keyword-count classifier over the pack's category keywords (no segmentation).

The baseline the jieba classifier in nlp/ is measured against, and the fallback when
`TOUSU_CLASSIFIER=keywords`.
"""

from __future__ import annotations

from core.pack import Pack
from core.routing.classifier import Classification, ScoredCategory


class KeywordClassifier:
    def __init__(self, pack: Pack) -> None:
        self.pack = pack

    def classify(self, text: str, *, title: str | None = None,
                 target: str | None = None) -> Classification:
        scores: list[ScoredCategory] = []
        hits: dict[str, list[str]] = {}
        body = f"{title or ''}\n{text}"
        for cat in self.pack.categories:
            found = [k for k in cat.keywords if k and k in body]
            hits[cat.name] = found
            scores.append(ScoredCategory(cat.name, float(sum(len(k) for k in found))))
        scores.sort(key=lambda s: -s.score)
        total = sum(s.score for s in scores)
        best = scores[0] if scores and scores[0].score > 0 else None
        department = None
        if best is not None:
            best_cat = self.pack.category(best.category)
            department = best_cat.department if best_cat else None
        target_dept = match_target(self.pack, target or "")
        if target_dept and target_dept[0] == "department":
            department = target_dept[1]
        return Classification(
            category=best.category if best else None,
            department=department,
            confidence=(best.score / total) if best and total else 0.0,
            keywords=tuple(hits[best.category]) if best else (),
            ranking=tuple(scores),
            department_from_target=bool(target_dept and target_dept[0] == "department"),
        )


def match_target(pack: Pack, text: str) -> tuple[str, str] | None:
    """Exact mention of a staff member's name/alias or a department name/alias in `text`."""
    text = text.strip()
    if not text:
        return None
    for member in pack.staff:
        if any(n and n in text for n in (member.name, *member.aliases)):
            return ("staff", member.id)
    for dept in pack.departments:
        if any(n and n in text for n in (dept.name, *dept.aliases)):
            return ("department", dept.id)
    return None
