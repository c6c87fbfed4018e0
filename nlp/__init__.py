"""Routing intelligence: segmentation, classification, targets, duplicates, personal data.

Nothing heavy loads at import: jieba loads on the first classification.
"""

from __future__ import annotations

from nlp.classifier import LOW_CONFIDENCE, KeywordClassifier
from nlp.duplicates import find_duplicates, similarity, tier_for_complainants
from nlp.runtime import build_classifier, pack_tokenizer
from nlp.signals import find_signals
from nlp.targets import TargetMatch, find_target

__all__ = [
    "LOW_CONFIDENCE",
    "KeywordClassifier",
    "TargetMatch",
    "build_classifier",
    "find_duplicates",
    "find_signals",
    "find_target",
    "pack_tokenizer",
    "similarity",
    "tier_for_complainants",
]
