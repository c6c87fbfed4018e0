"""Held-out accuracy of the shipped keyword files (packs/*/keywords.yaml).

The holdout_*.jsonl files were written by another engineer, independently of the training
data, and were read only after the keyword files were frozen (bench/README_nlp.md). The floors
below are the measured figures minus a small margin: they guard against regressions. The
issue's 85% target is asserted separately and is known not to be met yet (xfail).
"""

from __future__ import annotations

import pytest

import nlp
from nlp.evaluate import EvalReport, evaluate
from tests.nlp.conftest import pack_or_skip
from tests.nlp.packutil import DATA, read_jsonl

# pack -> (holdout file, measured top-1, regression floor)
HOLDOUTS = {
    "school": ("holdout_school.jsonl", 0.812, 0.78),
    "property": ("holdout_property.jsonl", 0.838, 0.80),
    "hospital": ("holdout_hospital.jsonl", 0.812, 0.78),
    # hotline trains on 1,191 fj4 posts weak-labelled by the replying bureau (same source as
    # this holdout, holdout rows excluded): 0.693 here, 0.643 5-fold on hz (bench/README_nlp.md)
    "hotline": ("holdout_hotline_fj4.jsonl", 0.693, 0.66),
}
TARGET = 0.85


def _holdout(name: str) -> EvalReport:
    pack, d = pack_or_skip(name)
    path = DATA / HOLDOUTS[name][0]
    if not path.is_file():
        pytest.skip(f"{path.name} not in the tree")
    return evaluate(nlp.build_classifier(pack, d), read_jsonl(path))


@pytest.mark.parametrize("name", sorted(HOLDOUTS))
def test_holdout_accuracy_floor(name: str) -> None:
    rep = _holdout(name)
    assert rep.accuracy >= HOLDOUTS[name][2], rep.errors


@pytest.mark.xfail(reason="85% target not reached yet: see bench/README_nlp.md", strict=False)
@pytest.mark.parametrize("name", sorted(HOLDOUTS))
def test_holdout_accuracy_target(name: str) -> None:
    assert _holdout(name).accuracy >= TARGET


def test_high_confidence_is_mostly_right() -> None:
    right = total = 0
    for name in ("school", "property", "hospital"):
        pack, d = pack_or_skip(name)
        clf = nlp.build_classifier(pack, d)
        for s in read_jsonl(DATA / HOLDOUTS[name][0]):
            res = clf.classify(s["text"])
            if res.confidence >= 0.85:
                total += 1
                right += res.category == s["label"]
    assert total >= 60 and right / total >= 0.9
