"""Out-of-sample classification metrics with sample sizes and 95% confidence intervals.

Labels over a horizon of h bars overlap, so consecutive samples are not
independent; intervals use an effective sample size ``n_eff = n / overlap``
(``overlap`` = the label horizon by default), which widens them honestly.
Formulas: Wilson score interval for accuracy; normal approximation for
balanced accuracy (delta method over the two recalls); Hanley & McNeil (1982)
standard error for ROC AUC; mean ± z·sd/√n_eff for the per-sample losses
(log loss, Brier score).
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054
EPS = 1e-15


def _ci(value: float, se: float, lo: float = -math.inf, hi: float = math.inf) -> dict:
    return {"value": float(value), "lo": float(max(lo, value - Z95 * se)), "hi": float(min(hi, value + Z95 * se))}


def wilson(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Return the Wilson score interval of a proportion (n may be fractional: an effective size)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (centre - half, centre + half)


def hanley_mcneil_se(auc: float, n_pos: float, n_neg: float) -> float:
    """Return the standard error of an AUC (Hanley & McNeil 1982, eq. 2)."""
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def classification_report(y: np.ndarray, p: np.ndarray, overlap: float = 1.0) -> dict:
    """Return accuracy, balanced accuracy, ROC AUC, log loss and Brier score with 95% CIs.

    Parameters
    ----------
    y
        True binary labels (0/1).
    p
        Predicted probability of class 1.
    overlap
        Samples per independent observation (the label horizon for overlapping labels).
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    n = len(y)
    n_eff = max(n / max(overlap, 1.0), 1.0)
    out: dict = {"n": int(n), "n_eff": float(n_eff)}
    if n == 0:
        return out
    pred = (p >= 0.5).astype(np.float64)
    correct = pred == y
    acc = float(correct.mean())
    lo, hi = wilson(acc * n_eff, n_eff)
    out["accuracy"] = {"value": acc, "lo": lo, "hi": hi}
    pos, neg = y == 1, y == 0
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos and n_neg:
        r1, r0 = correct[pos].mean(), correct[neg].mean()
        f_pos, f_neg = max(n_pos / overlap, 1.0), max(n_neg / overlap, 1.0)
        se = 0.5 * math.sqrt(r1 * (1 - r1) / f_pos + r0 * (1 - r0) / f_neg)
        out["balanced_accuracy"] = _ci(0.5 * (r1 + r0), se, 0.0, 1.0)
        from sklearn.metrics import roc_auc_score  # scikit-learn only when a model is scored, not on import (page loads)

        auc = float(roc_auc_score(y, p))
        out["roc_auc"] = _ci(auc, hanley_mcneil_se(auc, f_pos, f_neg), 0.0, 1.0)
    ll = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    out["log_loss"] = _ci(ll.mean(), ll.std(ddof=1) / math.sqrt(n_eff) if n > 1 else 0.0, 0.0)
    br = (p - y) ** 2
    out["brier"] = _ci(br.mean(), br.std(ddof=1) / math.sqrt(n_eff) if n > 1 else 0.0, 0.0, 1.0)
    return out


def baselines(y_test: np.ndarray, y_train: np.ndarray, overlap: float = 1.0) -> dict:
    """Return the reports of a majority-class baseline and of a coin flip on the test labels.

    The majority baseline predicts the training fold's base rate for every
    sample (so its class is the training majority); the coin flip predicts 0.5,
    whose accuracy is 0.5 in expectation with the binomial spread shown as CI.
    """
    y_test = np.asarray(y_test, dtype=np.float64)
    prior = float(np.mean(y_train)) if len(y_train) else 0.5
    # Nudge the constant off 0.5 so its hard prediction is the training majority.
    prior_pred = prior if prior != 0.5 else 0.5 + 1e-9
    majority = classification_report(y_test, np.full(len(y_test), prior_pred), overlap)
    majority["p"] = prior
    n_eff = max(len(y_test) / max(overlap, 1.0), 1.0)
    half = Z95 * math.sqrt(0.25 / n_eff)
    coin = {
        "n": len(y_test),
        "n_eff": float(n_eff),
        "accuracy": {"value": 0.5, "lo": 0.5 - half, "hi": 0.5 + half},
        "balanced_accuracy": {"value": 0.5, "lo": 0.5 - half, "hi": 0.5 + half},
        "roc_auc": {"value": 0.5, "lo": 0.5, "hi": 0.5},
        "log_loss": {"value": math.log(2.0), "lo": math.log(2.0), "hi": math.log(2.0)},
        "brier": {"value": 0.25, "lo": 0.25, "hi": 0.25},
    }
    return {"majority": majority, "coin_flip": coin}
