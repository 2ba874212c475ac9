"""Verdicts in words for scores shown to the user (so nobody has to read a confidence interval to know what it says)."""

from __future__ import annotations

from typing import Any


def edge_verdict(auc: dict[str, Any] | None) -> tuple[str, str]:
    """Return ``(level, sentence)`` for an out-of-sample ROC AUC with its 95 % CI (``{"value", "lo", "hi"}``).

    ``level`` is ``"edge"`` when the whole interval lies above 0.5, ``"worse"`` when it lies below, ``"none"`` when it
    covers 0.5 (no evidence of an edge: a coin flip is as likely) and ``"unknown"`` without a score.
    """
    if not auc or auc.get("lo") is None or auc.get("hi") is None:
        return "unknown", "No out-of-sample score yet: no verdict on an edge."
    value, lo, hi = float(auc["value"]), float(auc["lo"]), float(auc["hi"])
    ci = f"AUC {value:.3f}, 95 % CI {lo:.3f} to {hi:.3f}"
    if lo > 0.5:
        return "edge", f"Evidence of an edge: the whole interval lies above a coin flip's 0.5 ({ci})."
    if hi < 0.5:
        return "worse", f"Worse than a coin flip: the whole interval lies below 0.5 ({ci}). Do not trade this model."
    return "none", f"No evidence of an edge: the interval covers a coin flip's 0.5 ({ci})."
