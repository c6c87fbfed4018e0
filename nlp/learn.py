"""Mining discriminative keywords per category from past records, with k-fold evaluation.

Weights are smoothed log-odds of a word's document frequency inside a category against
outside it (a Naive-Bayes-style score), kept when positive and supported by a few records.
The category bias is the log prior; the softmax temperature is fitted on held-out folds.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.pack import Pack
from nlp.classifier import KeywordClassifier
from nlp.keywords import CategoryKeywords, KeywordFile
from nlp.records import Record
from nlp.runtime import make_tokenizer
from nlp.tokenizer import PackTokenizer

MIN_DF = 2  # a word must appear in this many records of the category
TOP_K = 80  # keywords kept per category
ALPHA = 5.0  # strength of the prior toward the background rate
MIN_WEIGHT = 0.4
SUPPORT_K = 4.0
WEIGHT_SCALE = 1.0
PRIOR_SCALE = 2.0  # how much the category prior counts
TEMPERATURES = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


@dataclass
class FoldReport:
    accuracy: float
    top3: float
    n: int


@dataclass
class LearnReport:
    keywords: KeywordFile
    folds: list[FoldReport] = field(default_factory=list)
    per_category: dict[str, tuple[int, int]] = field(default_factory=dict)  # correct, total
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def accuracy(self) -> float:
        n = sum(f.n for f in self.folds)
        return sum(f.accuracy * f.n for f in self.folds) / n if n else 0.0

    @property
    def top3(self) -> float:
        n = sum(f.n for f in self.folds)
        return sum(f.top3 * f.n for f in self.folds) / n if n else 0.0


def _useful(tok: str) -> bool:
    return len(tok) >= 2 and not tok.isdigit() and not tok.isascii()


def doc_terms(tok: PackTokenizer, rec: Record) -> set[str]:
    text = f"{rec.title}\n{rec.text}" if rec.title else rec.text
    return {t for t in tok.tokens(text) if _useful(t)}


def mine(
    docs: Sequence[set[str]],
    labels: Sequence[str],
    categories: Sequence[str],
    top_k: int = TOP_K,
    min_df: int = MIN_DF,
) -> dict[str, CategoryKeywords]:
    """Per category: bias (log prior) and the top positive log-odds words."""
    n = len(docs)
    per_cat: dict[str, Counter[str]] = defaultdict(Counter)
    total: Counter[str] = Counter()
    n_cat: Counter[str] = Counter(labels)
    for d, lab in zip(docs, labels, strict=True):
        per_cat[lab].update(d)
        total.update(d)
    out: dict[str, CategoryKeywords] = {}
    n_known = len(categories)
    for cat in categories:
        nc = n_cat.get(cat, 0)
        prior = (nc + 1) / (n + n_known)
        bias = PRIOR_SCALE * math.log(prior * n_known)
        weights: dict[str, float] = {}
        if nc:
            nr = n - nc
            for word, df in per_cat[cat].items():
                if df < min_df:
                    continue
                other = total[word] - df
                bg = total[word] / n  # shrink toward the background rate (Dirichlet prior)
                p_in = (df + ALPHA * bg) / (nc + ALPHA)
                p_out = (other + ALPHA * bg) / (nr + ALPHA)
                # shrink words seen in few records: their log-odds are mostly noise
                w = WEIGHT_SCALE * math.log(p_in / p_out) * df / (df + SUPPORT_K)
                if w >= MIN_WEIGHT:
                    weights[word] = w
        best = sorted(weights.items(), key=lambda kv: -kv[1] * math.log1p(per_cat[cat][kv[0]]))
        out[cat] = CategoryKeywords(bias=bias, keywords=dict(best[:top_k]))
    return out


def stratified_folds(labels: Sequence[str], k: int, seed: int = 13) -> list[list[int]]:
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, lab in enumerate(labels):
        by_label[lab].append(i)
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    j = 0
    for lab in sorted(by_label):
        idx = by_label[lab]
        rng.shuffle(idx)
        for i in idx:
            folds[j % k].append(i)
            j += 1
    return folds


def _fit_temperature(clf: KeywordClassifier, records: Sequence[Record]) -> float:
    scored = [(clf.score(r.text, r.title), clf.categories.index(r.label))
              for r in records if r.label in clf.categories]
    best_t, best_nll = 1.0, math.inf
    for t in TEMPERATURES:
        nll = 0.0
        for s, gold in scored:
            top = max(s.scores)
            z = sum(math.exp((x - top) / t) for x in s.scores)
            nll -= (s.scores[gold] - top) / t - math.log(z)
        if nll < best_nll:
            best_t, best_nll = t, nll
    return best_t


def learn(
    pack: Pack,
    records: Sequence[Record],
    base: KeywordFile | None = None,
    k: int = 5,
    top_k: int = TOP_K,
) -> LearnReport:
    """Mine keywords from all records; measure k-fold held-out accuracy of the same procedure.

    `base` (the pack's current keyword file) contributes synonyms and stop words.
    """
    base = base or KeywordFile()
    categories = [c.name for c in pack.categories]
    records = [r for r in records if r.label in categories]
    tok = make_tokenizer(pack, base)
    docs = [doc_terms(tok, r) for r in records]
    labels = [r.label for r in records]
    report = LearnReport(keywords=base)
    temps: list[float] = []
    if k >= 2 and len(records) >= k:
        for fold in stratified_folds(labels, k):
            held = set(fold)
            train = [i for i in range(len(records)) if i not in held]
            cats = mine([docs[i] for i in train], [labels[i] for i in train], categories, top_k)
            kwf = KeywordFile(categories=cats, synonyms=base.synonyms, stopwords=base.stopwords)
            clf = KeywordClassifier(pack, kwf, make_tokenizer(pack, kwf))
            t = _fit_temperature(clf, [records[i] for i in train])
            temps.append(t)
            correct = top3 = 0
            for i in fold:
                r = records[i]
                res = clf.classify(r.text, title=r.title)
                got = res.category
                ok = got == r.label
                correct += ok
                in_top3 = r.label in [s.category for s in res.ranking[:3]]
                top3 += in_top3 and res.category is not None
                c, n = report.per_category.get(r.label, (0, 0))
                report.per_category[r.label] = (c + ok, n + 1)
                if not ok:
                    report.confusions[(r.label, got or "-")] += 1
            report.folds.append(FoldReport(correct / len(fold), top3 / len(fold), len(fold)))
    cats = mine(docs, labels, categories, top_k)
    temperature = sorted(temps)[len(temps) // 2] if temps else 1.0
    report.keywords = KeywordFile(
        categories=cats,
        synonyms=base.synonyms,
        stopwords=base.stopwords,
        temperature=temperature,
        meta={"records": len(records), "kfold": k, "heldout_accuracy": round(report.accuracy, 4)},
    )
    return report
