"""Evaluate a sentiment scorer on a labelled headline file: accuracy and macro-F1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from core.news.fetchers.bundled import read_headlines
from core.news.sentiment import LABELS, Scorer


def load_labelled(path: str | Path) -> list[dict]:
    """Return the rows of a labelled headline file that carry a known label."""
    return [r for r in read_headlines(path) if r.get("label") in LABELS]


def evaluate(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] = LABELS) -> dict:
    """Return accuracy, macro-F1 (unweighted mean of per-class F1) and per-class F1.

    A class never predicted and never present is left out of the macro mean, as
    scikit-learn does for labels absent from both.
    """
    if len(gold) != len(pred) or not gold:
        raise ValueError("gold and predicted labels must be non-empty and of equal length")
    accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
    per_class = {}
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, pred, strict=True))
        if tp + fp + fn == 0:
            continue
        per_class[label] = 2 * tp / (2 * tp + fp + fn)
    macro = sum(per_class.values()) / len(per_class)
    return {"n": len(gold), "accuracy": accuracy, "macro_f1": macro, "f1": per_class}


def evaluate_scorer(scorer: Scorer, rows: Sequence[dict]) -> dict:
    """Score every row's title and compare with its label."""
    pred = [scorer.score(r["title"]).label for r in rows]
    return evaluate([r["label"] for r in rows], pred)


def majority_baseline(rows: Sequence[dict]) -> dict:
    """Return the metrics of always predicting the most frequent label."""
    gold = [r["label"] for r in rows]
    top = Counter(gold).most_common(1)[0][0]
    return {**evaluate(gold, [top] * len(gold)), "label": top}
