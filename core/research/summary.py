"""What a sweep's trials say together: the best trial, its deflated Sharpe ratio, the PBO, plain-words warnings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.research.dsr import deflated_sharpe
from core.research.pbo import probability_of_overfitting

DSR_OK = 0.95  # the paper's usual confidence level
PBO_OK = 0.5


def trials_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Return one row per trial: symbol, each parameter, each metric (and ``error`` for failed ones)."""
    rows = []
    for r in records:
        metrics = r.get("metrics") or {}
        rows.append({"symbol": r["symbol"], **{f"p_{k}": v for k, v in r["params"].items()}, **{k: v for k, v in metrics.items() if k != "path"},
                     "path": metrics.get("path")})
    frame = pd.DataFrame(rows)
    for col in frame.columns:
        if col not in ("symbol", "path", "error") and not col.startswith("p_"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


def summarise(records: Sequence[dict[str, Any]], skipped: int = 0, n_splits: int = 16) -> dict[str, Any]:
    """Return the sweep summary: counts, best trial, DSR, PBO with its rank pairs, and warnings in plain words.

    Every (parameter set, symbol) backtest is one trial. The best is the highest
    annualised Sharpe ratio; its DSR uses the per-bar Sharpe ratios of all trials.
    """
    # In key order: the summary must not depend on the order trials finished or were stored (sums of floats do).
    ok = sorted((r for r in records if r.get("metrics") and r["metrics"].get("sr") is not None and math.isfinite(r["metrics"]["sr"])),
                key=lambda r: (r["key"], r["symbol"]))
    failed = len(records) - len(ok)
    out: dict[str, Any] = {"n_trials": len(ok), "n_failed": failed, "n_skipped": int(skipped), "best": None, "dsr": None, "pbo": None,
                           "warnings": []}
    if not ok:
        out["warnings"].append("No trial produced returns to judge (every backtest failed or never traded).")
        return out
    best = max(ok, key=lambda r: (r["metrics"].get("sharpe") if r["metrics"].get("sharpe") is not None else -math.inf, r["key"]))
    m = best["metrics"]
    out["best"] = {"symbol": best["symbol"], "params": best["params"], "key": best["key"], "metrics": m}
    srs = np.array([r["metrics"]["sr"] for r in ok], dtype=float)
    var = float(srs.var(ddof=1)) if srs.size > 1 else 0.0
    d = deflated_sharpe(m["sr"], int(m["n_obs"]), len(ok), var, m["skew"], m["kurtosis"])
    ppy = float(m.get("periods_per_year") or 252.0)
    out["dsr"] = {**d.to_dict(), "expected_max_sharpe_annual": d.expected_max_sharpe * math.sqrt(ppy), "sharpe_annual": m.get("sharpe")}
    out["pbo"] = _pbo(ok, n_splits)
    out["warnings"] = _warnings(out)
    return out


def _pbo(records: Sequence[dict[str, Any]], n_splits: int) -> dict[str, Any]:
    keys, matrix = weekly_matrix(records)
    if len(keys) < 2:
        return {"pbo": None, "reason": "the overfitting check needs at least 2 trials"}
    try:
        res = probability_of_overfitting(matrix, n_splits=n_splits)
    except ValueError as exc:
        return {"pbo": None, "reason": str(exc)}
    out = res.to_dict()
    step = max(len(out["logits"]) // 500, 1)  # keep the stored summary small: every k-th split is plenty for the charts
    for k in ("logits", "is_sharpe", "oos_sharpe"):
        out[k] = out[k][::step]
    out["weeks"] = len(matrix)
    out["keys"] = keys
    return out


def weekly_matrix(records: Sequence[dict[str, Any]]) -> tuple[list[str], np.ndarray]:
    """Return the trial keys and their week-over-week returns (weeks x trials) on the weeks every trial has.

    The returns are each trial's own (:func:`core.research.trial.weekly_returns`: a week over the
    trial's previous stored week), placed on the union of the trials' weeks; weeks some trial lacks
    are dropped. One numpy pass instead of a pandas Series per trial (a sweep has 10,000s).
    """
    cols: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for r in records:
        eq = r.get("equity") or {}
        weeks = np.asarray(eq.get("weeks", []), dtype=np.int64)
        values = np.asarray(eq.get("weekly", []), dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            cols[r["key"]] = (weeks[1:], values[1:] / values[:-1] - 1.0) if values.size > 1 else (weeks[:0], values[:0])
    keys = list(cols)
    union = np.unique(np.concatenate([w for w, _ in cols.values()])) if cols else np.array([], dtype=np.int64)
    matrix = np.full((union.size, len(keys)), np.nan)
    for j, (w, rets) in enumerate(cols.values()):
        matrix[np.searchsorted(union, w), j] = rets
    return keys, matrix[~np.isnan(matrix).any(axis=1)]


def _warnings(summary: dict[str, Any]) -> list[str]:
    notes = []
    d, p = summary["dsr"], summary["pbo"] or {}
    n = summary["n_trials"]
    if d["dsr"] is not None and not d["dsr"] >= DSR_OK:
        notes.append(
            f"The best trial is likely noise: its Sharpe ratio of {d['sharpe_annual']:.2f} is about what the best of {n} trials reaches by luck "
            f"alone (expected maximum {d['expected_max_sharpe_annual']:.2f}); the probability that its edge is real is {d['dsr']:.0%}, "
            f"below {DSR_OK:.0%}.")
    if p.get("pbo") is not None and p["pbo"] >= PBO_OK:
        notes.append(
            f"Choosing the best trial here overfits: in {p['pbo']:.0%} of the {p['n_combinations']} in-sample/out-of-sample splits the "
            "in-sample winner did no better than the median trial out of sample.")
    if n < 2:
        notes.append("Only one trial: nothing to correct for, and nothing to compare it with.")
    return notes
