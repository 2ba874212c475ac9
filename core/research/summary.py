"""What a sweep's trials say together: the best trial, its deflated Sharpe ratio, the PBO, plain-words warnings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.research.dsr import deflated_sharpe
from core.research.pbo import probability_of_overfitting
from core.research.trial import weekly_returns

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
    cols = {r["key"]: weekly_returns(r.get("equity") or {}) for r in records}
    if len(cols) < 2:
        return {"pbo": None, "reason": "the overfitting check needs at least 2 trials"}
    matrix = pd.DataFrame(cols).dropna(how="any")
    try:
        res = probability_of_overfitting(matrix.to_numpy(), n_splits=n_splits)
    except ValueError as exc:
        return {"pbo": None, "reason": str(exc)}
    out = res.to_dict()
    step = max(len(out["logits"]) // 500, 1)  # keep the stored summary small: every k-th split is plenty for the charts
    for k in ("logits", "is_sharpe", "oos_sharpe"):
        out[k] = out[k][::step]
    out["weeks"] = len(matrix)
    out["keys"] = list(matrix.columns)
    return out


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
