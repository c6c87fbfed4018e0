"""Learning keyword weights per category from past records, with k-fold held-out accuracy.

The model is a multinomial logistic regression over keyword hits (nlp.terms): the candidate
keywords are the jieba words of the records (pack vocabulary added; numbers, place and person
names left out), their Chinese character pairs (so 漏水 is found in 楼上漏水下来 whatever jieba
makes of it) and the pack's seed keywords. Each record's keyword values count more in the
title / first sentence, exactly as at classification time. The pack's seed keywords (pack.yaml
category keywords, the keyword file's `seeds`) also enter as small pseudo-records of their
category, so a category with few records still has its telling words.

After a first fit on all candidates, each category keeps its `top_k` highest-weighted words
(plus its seeds) and the model is fitted again on those alone: the weights written to the
keyword file are exactly the model that runs. The softmax temperature is fitted on the
held-out folds so that the confidence is calibrated.

numpy is needed here only (`pip install numpy`); classification itself is pure Python.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.pack import Pack
from nlp.classifier import KeywordClassifier, is_short
from nlp.keywords import CategoryKeywords, KeywordFile
from nlp.records import Record
from nlp.runtime import make_tokenizer
from nlp.terms import TermIndex, term_values
from nlp.tokenizer import COMMON_STOPWORDS, PackTokenizer, normalize

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from numpy.typing import NDArray

TOP_K = 300  # keywords kept per category
MIN_DF = 2  # a candidate word must occur in this many training records
L2 = 5e-4  # ridge penalty of the weights (per record, records weighted to mean 1)
HINT_WEIGHT = 1.0  # weight of a seed keyword's pseudo-record against a real record
MAX_ITER = 250
REFIT_ITER = 150
MIN_EXPORT = 0.005  # |weight| below this is not written
BUCKETS = (0.0, 0.4, 0.55, 0.7, 0.85, 0.95)
MIN_SHORT = 30  # held-out short texts needed to fit a temperature of their own

_CJK = re.compile(r"[\u3400-\u9fff]+")
_FUNCTION_CHARS = frozenset("的了吗呢吧啊呀哦嗯么着之其及与和或")
_PLACE_TAGS = frozenset({"ns", "nr", "nrt", "nrfg", "nsf"})
_PLACE_SUFFIX = re.compile(r"^[\u4e00-\u9fff]{2,8}(省|市|区|县|镇|乡|村|街道|路|街|苑|府|小区)$")
_GENERIC_TEXT = (
    "老城区 开发区 居民区 住宅区 商业区 风景区 高新区 新农村 城中村 自然村 行政村 农村 "
    "马路 公路 道路 高速路 人行道 十字路 机动车道 非机动车道 老小区 新小区 本小区 该小区 "
    "安置小区 回迁小区 商品房小区 保障房小区 学区 校区 园区 景区 社区 街道 城区 市区 郊区 山区 "
    "辖区 片区 小区"
)
_GENERIC_PLACES = frozenset(_GENERIC_TEXT.split())


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
    # confidence bucket (low, high) -> (correct, total), held-out, calibrated temperature
    reliability: dict[tuple[float, float], tuple[int, int]] = field(default_factory=dict)
    # the same for short texts: held-out titles alone and short untitled records
    reliability_short: dict[tuple[float, float], tuple[int, int]] = field(default_factory=dict)
    predicted: dict[int, str] = field(default_factory=dict)  # record index -> held-out top-1

    def accuracy_of(self, indices: Iterable[int], records: Sequence[Record]) -> float:
        """Held-out top-1 accuracy on a subset of the records (e.g. one source)."""
        idx = [i for i in indices if i in self.predicted]
        return sum(self.predicted[i] == records[i].label for i in idx) / len(idx) if idx else 0.0

    @property
    def accuracy(self) -> float:
        n = sum(f.n for f in self.folds)
        return sum(f.accuracy * f.n for f in self.folds) / n if n else 0.0

    @property
    def top3(self) -> float:
        n = sum(f.n for f in self.folds)
        return sum(f.top3 * f.n for f in self.folds) / n if n else 0.0


@dataclass(frozen=True)
class Options:
    top_k: int = TOP_K
    min_df: int = MIN_DF
    l2: float = L2
    hint_weight: float = HINT_WEIGHT
    max_iter: int = MAX_ITER
    refit_iter: int = REFIT_ITER
    chars: bool = True  # single characters as candidates too
    extra_weight: float = 1.0  # weight of an `extra` (e.g. weakly labelled) record
    max_chars: int = 0  # train on the first max_chars of each text (0: all); scored in full
    # a record of category c weighs (n_largest / n_c) ** balance: 0 learns the training set's
    # class mix into the biases, 1 treats every category alike; in between suits a model that
    # will meet another mix than it was trained on
    balance: float = 0.0


# -- candidate keywords -------------------------------------------------------------------


def _place_words() -> Mapping[str, str]:
    import jieba.posseg

    tab: Mapping[str, str] = jieba.posseg.dt.word_tag_tab
    return tab


def _is_place(tok: str, tags: Mapping[str, str]) -> bool:
    if tok in _GENERIC_PLACES:
        return False
    return tags.get(tok) in _PLACE_TAGS or bool(_PLACE_SUFFIX.match(tok))


def _good_word(tok: str, stop: frozenset[str]) -> bool:
    return (
        len(tok) >= 2
        and tok not in stop
        and all("\u3400" <= ch <= "\u9fff" for ch in tok)
    )


def _good_pair(pair: str, stop: frozenset[str]) -> bool:
    return pair not in stop and not (
        pair[0] in _FUNCTION_CHARS or pair[1] in _FUNCTION_CHARS
    )


def record_candidates(
    tok: PackTokenizer, rec: Record, tags: Mapping[str, str], stop: frozenset[str],
    chars: bool = False,
) -> set[str]:
    """Words and character pairs of a record, place and person names masked out."""
    text = f"{rec.title}\n{rec.text}" if rec.title else rec.text
    words: set[str] = set()
    masked: list[str] = []
    for raw in tok.cut(text):
        canon = tok.synonyms.get(raw, raw)
        if len(raw) >= 2 and _is_place(raw, tags):
            masked.append(" ")
            continue
        masked.append(raw)
        if _good_word(canon, stop):
            words.add(canon)
    for run in _CJK.findall("".join(masked)):
        for i in range(len(run) - 1):
            pair = run[i : i + 2]
            if _good_pair(pair, stop):
                words.add(pair)
        if chars:
            words.update(ch for ch in run if ch not in _FUNCTION_CHARS and ch not in stop)
    return words


def seed_words(pack: Pack, base: KeywordFile) -> dict[str, set[str]]:
    """category -> seed keywords: pack.yaml keywords plus the keyword file's seeds (a
    hand-written keyword file that was never learned counts as seeds as a whole)."""
    seeds: dict[str, set[str]] = {
        c.name: {normalize(k) for k in c.keywords} for c in pack.categories
    }
    extra: Mapping[str, Iterable[str]] = base.seeds
    if not extra and not base.meta.get("learned"):
        extra = {c: ck.keywords for c, ck in base.categories.items()}
    for cat, words in extra.items():
        if cat in seeds:
            seeds[cat].update(normalize(w) for w in words)
    return {c: {w for w in ws if w and w not in base.stopwords} for c, ws in seeds.items()}


# -- the model ----------------------------------------------------------------------------


@dataclass
class _Data:
    """Sparse record x keyword matrix in coordinate form, rows sorted."""

    rows: NDArray[np.int64]
    cols: NDArray[np.int64]
    vals: NDArray[np.float64]
    n_rows: int
    n_cols: int
    y: NDArray[np.int64]
    weight: NDArray[np.float64]

    def __post_init__(self) -> None:
        import numpy as np

        self.by_col = np.argsort(self.cols, kind="stable")
        self.col_sorted = self.cols[self.by_col]
        self.col_starts = np.flatnonzero(np.r_[True, np.diff(self.col_sorted) != 0])
        self.col_ids = self.col_sorted[self.col_starts]
        self.row_starts = np.flatnonzero(np.r_[True, np.diff(self.rows) != 0])
        self.row_ids = self.rows[self.row_starts]

    def dot(self, w: NDArray[np.float64]) -> NDArray[np.float64]:
        import numpy as np

        out = np.zeros((self.n_rows, w.shape[1]))
        if len(self.rows):
            part = w[self.cols] * self.vals[:, None]
            out[self.row_ids] = np.add.reduceat(part, self.row_starts, axis=0)
        return out

    def tdot(self, g: NDArray[np.float64]) -> NDArray[np.float64]:
        import numpy as np

        out = np.zeros((self.n_cols, g.shape[1]))
        if len(self.rows):
            part = g[self.rows[self.by_col]] * self.vals[self.by_col, None]
            out[self.col_ids] = np.add.reduceat(part, self.col_starts, axis=0)
        return out


def _matrix(
    feats: Sequence[Mapping[str, float]],
    vocab: Mapping[str, int],
    labels: Sequence[int],
    weights: Sequence[float],
) -> _Data:
    import numpy as np

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for i, f in enumerate(feats):
        for term, v in f.items():
            j = vocab.get(term)
            if j is not None:
                rows.append(i)
                cols.append(j)
                vals.append(v)
    w = np.asarray(weights, dtype=float)
    return _Data(
        np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64),
        np.asarray(vals, dtype=float), len(feats), len(vocab),
        np.asarray(labels, dtype=np.int64), w * (len(w) / w.sum()),
    )


def _loss_grad(
    theta: NDArray[np.float64], data: _Data, n_cat: int, l2: float,
    mask: NDArray[np.float64] | None,
) -> tuple[float, NDArray[np.float64]]:
    import numpy as np

    nf = data.n_cols
    w = theta[: nf * n_cat].reshape(nf, n_cat)
    b = theta[nf * n_cat :]
    z = data.dot(w) + b
    z -= z.max(axis=1, keepdims=True)
    ez = np.exp(z)
    p = ez / ez.sum(axis=1, keepdims=True)
    idx = np.arange(data.n_rows)
    sw = data.weight
    n = float(sw.sum())
    loss = float(-(sw * np.log(p[idx, data.y] + 1e-300)).sum() / n + 0.5 * l2 * (w * w).sum())
    g = p
    g[idx, data.y] -= 1.0
    g *= (sw / n)[:, None]
    gw = data.tdot(g) + l2 * w
    if mask is not None:
        gw *= mask
    return loss, np.concatenate([gw.ravel(), g.sum(axis=0)])


def _lbfgs(
    fun: Any, x0: NDArray[np.float64], max_iter: int, memory: int = 10, tol: float = 1e-6
) -> NDArray[np.float64]:
    """Plain L-BFGS with Armijo backtracking; enough for a smooth convex loss."""
    x = x0.copy()
    f, g = fun(x)
    s_list: list[NDArray[np.float64]] = []
    y_list: list[NDArray[np.float64]] = []
    for _ in range(max_iter):
        q = g.copy()
        alphas: list[float] = []
        rhos: list[float] = []
        for s, y in zip(reversed(s_list), reversed(y_list), strict=True):
            rho = 1.0 / float(y @ s)
            a = rho * float(s @ q)
            q -= a * y
            alphas.append(a)
            rhos.append(rho)
        if s_list:
            q *= float(s_list[-1] @ y_list[-1]) / float(y_list[-1] @ y_list[-1])
        for (s, y), a, rho in zip(zip(s_list, y_list, strict=True), reversed(alphas),
                                  reversed(rhos), strict=True):
            q += (a - rho * float(y @ q)) * s
        d = -q
        slope = float(g @ d)
        if slope >= 0:  # not a descent direction: restart from the gradient
            d, slope = -g, -float(g @ g)
            s_list.clear()
            y_list.clear()
        step = 1.0
        while True:
            x_new = x + step * d
            f_new, g_new = fun(x_new)
            if f_new <= f + 1e-4 * step * slope or step < 1e-8:
                break
            step *= 0.5
        s_vec, y_vec = x_new - x, g_new - g
        if float(s_vec @ y_vec) > 1e-10:
            s_list.append(s_vec)
            y_list.append(y_vec)
            if len(s_list) > memory:
                s_list.pop(0)
                y_list.pop(0)
        done = abs(f - f_new) <= tol * max(1.0, abs(f))
        x, f, g = x_new, f_new, g_new
        if done:
            break
    return x


@dataclass
class _Model:
    vocab: list[str]
    w: NDArray[np.float64]  # n_vocab x n_cat
    b: NDArray[np.float64]


def _fit(
    data: _Data, n_cat: int, opts: Options, mask: NDArray[np.float64] | None = None,
    init: NDArray[np.float64] | None = None, iters: int = MAX_ITER,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    import numpy as np

    nf = data.n_cols
    x0 = np.zeros(nf * n_cat + n_cat) if init is None else init

    def fun(t: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        return _loss_grad(t, data, n_cat, opts.l2, mask)

    theta = _lbfgs(fun, x0, iters)
    w = theta[: nf * n_cat].reshape(nf, n_cat)
    if mask is not None:
        w = w * mask
    return w, theta[nf * n_cat :]


def train(
    pack: Pack,
    records: Sequence[Record],
    base: KeywordFile,
    opts: Options,
    tok: PackTokenizer | None = None,
    tags: Mapping[str, str] | None = None,
    candidates: Sequence[set[str]] | None = None,
    weights: Sequence[float] | None = None,
) -> dict[str, CategoryKeywords]:
    """Fit on `records` (labels among the pack's categories): category -> bias and keywords.
    `weights` (default 1 each) weigh the records against each other."""
    import numpy as np

    categories = [c.name for c in pack.categories]
    cat_index = {c: i for i, c in enumerate(categories)}
    tok = tok or make_tokenizer(pack, base)
    tags = tags if tags is not None else _place_words()
    stop = COMMON_STOPWORDS | base.stopwords
    if candidates is None:
        candidates = [record_candidates(tok, r, tags, stop, opts.chars) for r in records]
    seeds = seed_words(pack, base)
    df: Counter[str] = Counter()
    for cand in candidates:
        df.update(cand)
    seed_all = set().union(*seeds.values()) if seeds else set()
    vocab_words = sorted({w for w, n in df.items() if n >= opts.min_df} | seed_all)
    vocab = {w: i for i, w in enumerate(vocab_words)}
    index = TermIndex(vocab_words, base.variant_map(), base.stopwords)
    feats: list[Mapping[str, float]] = [term_values(index, r.text, r.title) for r in records]
    labels = [cat_index[r.label] for r in records]
    weights = list(weights) if weights is not None else [1.0] * len(records)
    if opts.balance:
        weights = [w * f for w, f in zip(weights, class_factors(labels, opts.balance),
                                         strict=True)]
    for cat, words in seeds.items():
        for word in sorted(words):
            feats.append({word: 1.0, **{t: 1.0 for t in index.find(word)}})
            labels.append(cat_index[cat])
            weights.append(opts.hint_weight)
    data = _matrix(feats, vocab, labels, weights)
    n_cat = len(categories)
    w, b = _fit(data, n_cat, opts, iters=opts.max_iter)
    # keep the top words per category (and its seeds), then fit again on those alone
    mask = np.zeros_like(w)
    for c, cat in enumerate(categories):
        col = w[:, c]
        order = np.argsort(-col)[: opts.top_k]
        mask[order[col[order] > 0], c] = 1.0
        for word in seeds.get(cat, ()):
            if word in vocab:
                mask[vocab[word], c] = 1.0
    init = np.concatenate([(w * mask).ravel(), b])
    w, b = _fit(data, n_cat, opts, mask=mask, init=init, iters=opts.refit_iter)
    out: dict[str, CategoryKeywords] = {}
    for c, cat in enumerate(categories):
        kws = {
            vocab_words[j]: float(w[j, c])
            for j in np.flatnonzero(mask[:, c])
            if abs(w[j, c]) >= MIN_EXPORT
        }
        out[cat] = CategoryKeywords(bias=float(b[c]), keywords=kws)
    return out


def class_factors(labels: Sequence[int], balance: float) -> list[float]:
    """Per-record weight factors (n_largest / n_own_class) ** balance."""
    counts = Counter(labels)
    top = max(counts.values(), default=1)
    return [(top / counts[lab]) ** balance for lab in labels]


# -- folds, calibration, the report -------------------------------------------------------


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


def _softmax(scores: Sequence[float], t: float) -> list[float]:
    top = max(scores)
    exps = [math.exp((s - top) / t) for s in scores]
    z = sum(exps)
    return [e / z for e in exps]


def fit_temperature(scored: Sequence[tuple[Sequence[float], int]]) -> float:
    """The softmax temperature minimizing the negative log-likelihood of held-out scores."""

    def nll(t: float) -> float:
        return -sum(math.log(max(_softmax(s, t)[g], 1e-300)) for s, g in scored)

    lo, hi = math.log(0.05), math.log(20.0)
    for _ in range(40):  # golden-section search on log t
        m1, m2 = lo + (hi - lo) * 0.382, lo + (hi - lo) * 0.618
        if nll(math.exp(m1)) <= nll(math.exp(m2)):
            hi = m2
        else:
            lo = m1
    return round(math.exp((lo + hi) / 2), 3)


def _bucket(p: float) -> tuple[float, float]:
    edges = (*BUCKETS, 1.0001)
    for lo, hi in zip(edges, edges[1:], strict=False):
        if lo <= p < hi:
            return (lo, min(hi, 1.0))
    return (BUCKETS[-1], 1.0)


def learn(
    pack: Pack,
    records: Sequence[Record],
    base: KeywordFile | None = None,
    k: int = 5,
    top_k: int = TOP_K,
    options: Options | None = None,
    extra: Sequence[Record] = (),
) -> LearnReport:
    """Learn keywords from all records; measure k-fold held-out accuracy of the same procedure.

    `base` (the pack's current keyword file) contributes synonyms, stop words and seeds.
    `extra` records (e.g. weak labels, `bureau_labels`) are trained on in every fold, with
    weight `options.extra_weight`, but never held out: the accuracy is that on `records`.
    """
    opts = options or Options(top_k=top_k)
    base = base or KeywordFile()
    categories = [c.name for c in pack.categories]
    records = [r for r in records if r.label in categories]
    tok = make_tokenizer(pack, base)
    tags = _place_words()
    stop = COMMON_STOPWORDS | base.stopwords
    extra = [r for r in extra if r.label in categories]
    fit = [_clip(r, opts.max_chars) for r in records]
    extra = [_clip(r, opts.max_chars) for r in extra]
    extra_cands = [record_candidates(tok, r, tags, stop, opts.chars) for r in extra]
    extra_w = [opts.extra_weight] * len(extra)
    cands = [record_candidates(tok, r, tags, stop, opts.chars) for r in fit]
    labels = [r.label for r in records]
    report = LearnReport(keywords=base)
    scored: list[tuple[tuple[float, ...], int, Record]] = []
    short: list[tuple[tuple[float, ...], int]] = []  # a short view of each held-out record
    if k >= 2 and len(records) >= k:
        for fold in stratified_folds(labels, k):
            held = set(fold)
            train_idx = [i for i in range(len(records)) if i not in held]
            cats = train(pack, [fit[i] for i in train_idx] + extra, base, opts, tok, tags,
                         [cands[i] for i in train_idx] + extra_cands,
                         [1.0] * len(train_idx) + extra_w)
            kwf = _keyword_file(cats, base, 1.0, {})
            clf = KeywordClassifier(pack, kwf, tok)
            correct = top3 = 0
            for i in fold:
                r = records[i]
                s = clf.score(r.text, r.title)
                gold = categories.index(r.label)
                scored.append((s.scores, gold, r))
                if r.title:
                    short.append((clf.score(r.title).scores, gold))
                elif is_short(r.text, None):
                    short.append((s.scores, gold))
                order = sorted(range(len(categories)), key=lambda c: (-s.scores[c], c))
                ok = s.matched and order[0] == gold
                correct += int(ok)
                top3 += int(s.matched and gold in order[:3])
                c, n = report.per_category.get(r.label, (0, 0))
                report.per_category[r.label] = (c + ok, n + 1)
                got = categories[order[0]] if s.matched else "-"
                report.predicted[i] = got
                if not ok:
                    report.confusions[(r.label, got)] += 1
            report.folds.append(FoldReport(correct / len(fold), top3 / len(fold), len(fold)))
    temperature = fit_temperature([(raw, g) for raw, g, _ in scored]) if scored else 1.0
    _reliability(report.reliability, [(raw, g) for raw, g, _ in scored], temperature)
    temperature_short = fit_temperature(short) if len(short) >= MIN_SHORT else None
    if temperature_short is not None:
        _reliability(report.reliability_short, short, temperature_short)
    cats = train(pack, [*fit, *extra], base, opts, tok, tags, [*cands, *extra_cands],
                 [1.0] * len(records) + extra_w)
    meta: dict[str, Any] = {
        "learned": True,
        "records": len(records),
        **({"extra_records": len(extra)} if extra else {}),
        "kfold": k,
        "heldout_accuracy": round(report.accuracy, 4),
        "heldout_top3": round(report.top3, 4),
    }
    report.keywords = _keyword_file(cats, base, temperature, meta, temperature_short)
    return report


def _reliability(
    table: dict[tuple[float, float], tuple[int, int]],
    scored: Sequence[tuple[Sequence[float], int]], temperature: float,
) -> None:
    """Held-out (right, total) per confidence bucket of the top category."""
    for raw, g in scored:
        probs = _softmax(raw, temperature)
        best = max(range(len(probs)), key=lambda c: (probs[c], -c))
        key = _bucket(probs[best])
        right, n = table.get(key, (0, 0))
        table[key] = (right + int(best == g), n + 1)


def _clip(rec: Record, max_chars: int) -> Record:
    if max_chars <= 0 or len(rec.text) <= max_chars:
        return rec
    return Record(text=rec.text[:max_chars], label=rec.label, title=rec.title)


def _keyword_file(
    cats: Mapping[str, CategoryKeywords], base: KeywordFile, temperature: float,
    meta: Mapping[str, Any], temperature_short: float | None = None,
) -> KeywordFile:
    seeds = base.seeds
    if not seeds and not base.meta.get("learned"):
        seeds = {c: tuple(ck.keywords) for c, ck in base.categories.items()}
    return KeywordFile(
        categories=dict(cats),
        synonyms=base.synonyms,
        stopwords=base.stopwords,
        temperature=temperature,
        temperature_short=temperature_short,
        meta={"learned": True, **meta},
        seeds=seeds,
    )


# -- weak labels from the handling bureau named in a reply ---------------------------------


@dataclass(frozen=True)
class BureauMap:
    """Bureau names -> category (`packs/<id>/bureau_map.yaml`), with the decision rules."""

    names: Mapping[str, str]  # bureau name -> category ("" for a name that does not vote)
    signature_chars: int = 60
    signature_weight: float = 2.0
    dominance: float = 2.0

    @classmethod
    def load(cls, path: Any) -> BureauMap:
        from pathlib import Path

        import yaml

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        names: dict[str, str] = {}
        for cat, words in (data.get("bureaus") or {}).items():
            for w in words or ():
                w = normalize(str(w)).strip()
                if w in names and names[w] != cat:
                    raise ValueError(f"bureau name {w} given for {names[w]} and {cat}")
                names[w] = str(cat)
        for w in data.get("ignore") or ():
            names.setdefault(normalize(str(w)).strip(), "")
        rules = data.get("rules") or {}
        return cls(
            names=names,
            signature_chars=int(rules.get("signature_chars", 60)),
            signature_weight=float(rules.get("signature_weight", 2.0)),
            dominance=float(rules.get("dominance", 2.0)),
        )

    def mentions(self, reply: str) -> list[tuple[int, str]]:
        """(position, bureau name) in `reply`, longest name first, no overlaps."""
        text = normalize(reply)
        index = TermIndex(self.names)
        hits: list[tuple[int, str]] = []
        i = 0
        while i < len(text):
            sizes = index.lengths.get(text[i])
            best = ""
            for size in sizes or ():
                cand = text[i : i + size]
                if cand in index.table and len(cand) > len(best):
                    best = cand
            if best:
                hits.append((i, best))
                i += len(best)
            else:
                i += 1
        return hits

    def label(self, reply: str) -> str | None:
        """The category the reply's bureaus point to, or None when none or unclear."""
        text = normalize(reply)
        score: dict[str, float] = defaultdict(float)
        tail = len(text) - self.signature_chars
        for pos, name in self.mentions(text):
            if self.names[name]:
                score[self.names[name]] += self.signature_weight if pos >= tail else 1.0
        if not score:
            return None
        ranked = sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
        if len(ranked) > 1 and ranked[0][1] < self.dominance * ranked[1][1]:
            return None
        return ranked[0][0]


def bureau_labels(
    rows: Iterable[Mapping[str, str]], bureaus: BureauMap, reply_col: str,
    text_col: str, title_col: str | None = None, skip: Iterable[int] = (),
) -> list[tuple[int, Record]]:
    """(row index, record) for the rows whose reply names a bureau of one category clearly;
    rows in `skip` (a holdout) are left out."""
    skipped = set(skip)
    out: list[tuple[int, Record]] = []
    for i, row in enumerate(rows):
        if i in skipped:
            continue
        label = bureaus.label(row.get(reply_col) or "")
        text = " ".join((row.get(text_col) or "").split())
        title = " ".join((row.get(title_col) or "").split()) if title_col else ""
        if label and (text or title):
            out.append((i, Record(text=text, label=label, title=title or None)))
    return out
