"""Held-out accuracy of the shipped keyword files (packs/*/keywords.yaml).

The holdout_*.jsonl, holdout2_*.jsonl and holdout3_*.jsonl files were written by other engineers
who never saw the training data or the keyword lists (holdout3: phone-typed, colloquial, with
slips, written after the models were frozen); nobody training the models read them
(bench/README_nlp.md). The issue's floor is 85% top-1: the school, property and hospital packs
must meet it on their independent holdouts. The hotline pack does not reach it yet on
government posts (xfail, with a regression floor at the measured level minus a margin).
"""

from __future__ import annotations

import pytest

import nlp
from nlp.evaluate import EvalReport, evaluate
from tests.nlp.conftest import pack_or_skip
from tests.nlp.packutil import DATA, read_jsonl

TARGET = 0.85
# pack -> the independent holdout files (phone-typed complaints written by three other people)
INSTITUTIONS = {
    name: (f"holdout_{name}.jsonl", f"holdout2_{name}.jsonl", f"holdout3_{name}.jsonl")
    for name in ("school", "property", "hospital")
}
HOLDOUTS = {name: files[0] for name, files in INSTITUTIONS.items()}
# hotline: 150 fj4 posts labelled twice after packs/hotline/labels/GUIDE.md and adjudicated
# (never trained on); measured 0.827
HOTLINE = ("holdout_hotline_fj4.jsonl", 0.80)
# hotline: 225 complaints as people type them to the bot, labelled after the guide by a writer
# who saw neither the training text nor the model (training texts close to any of them removed)
HOTLINE_TYPED = "holdout_hotline_typed.jsonl"


def _holdout(name: str, file: str) -> EvalReport:
    pack, d = pack_or_skip(name)
    path = DATA / file
    if not path.is_file():
        pytest.skip(f"{path.name} not in the tree")
    return evaluate(nlp.build_classifier(pack, d), read_jsonl(path))


@pytest.mark.parametrize("name", sorted(INSTITUTIONS))
def test_phone_typed_complaints_meet_the_floor(name: str) -> None:
    reports = [_holdout(name, f) for f in INSTITUTIONS[name]]
    right = sum(r.accuracy * r.n for r in reports)
    total = sum(r.n for r in reports)
    assert right / total >= TARGET, [r.errors for r in reports]


def test_hotline_typed_complaints_meet_the_floor() -> None:
    rep = _holdout("hotline", HOTLINE_TYPED)
    assert rep.accuracy >= TARGET, rep.errors


def test_hotline_regression_floor() -> None:
    rep = _holdout("hotline", HOTLINE[0])
    assert rep.accuracy >= HOTLINE[1], rep.errors


@pytest.mark.xfail(reason="hotline: 85% not reached yet on government posts (bench/README.md)",
                   strict=False)
def test_hotline_target() -> None:
    assert _holdout("hotline", HOTLINE[0]).accuracy >= TARGET


def test_high_confidence_is_mostly_right() -> None:
    right = total = 0
    for name in ("school", "property", "hospital"):
        pack, d = pack_or_skip(name)
        clf = nlp.build_classifier(pack, d)
        for s in read_jsonl(DATA / HOLDOUTS[name]):
            res = clf.classify(s["text"])
            if res.confidence >= 0.85:
                total += 1
                right += res.category == s["label"]
    assert total >= 60 and right / total >= 0.9


def test_hotline_typed_confidence_is_calibrated() -> None:
    """Short typed complaints are scored with the temperature fitted on held-out titles: a
    right suggestion is not shown as unsure (before: 64% of them under LOW_CONFIDENCE)."""
    pack, d = pack_or_skip("hotline")
    clf = nlp.build_classifier(pack, d)
    samples = read_jsonl(DATA / HOTLINE_TYPED)
    results = [(clf.classify(s["text"]), s["label"]) for s in samples]
    sure = [res.category == gold for res, gold in results if res.confidence >= 0.85]
    unsure = sum(res.confidence < nlp.LOW_CONFIDENCE for res, _ in results)
    assert len(sure) >= len(samples) // 2 and sum(sure) / len(sure) >= 0.9
    assert unsure / len(samples) <= 0.2
