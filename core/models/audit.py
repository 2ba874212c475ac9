"""Leakage audit: a value at t must be the same whether or not later bars exist.

For several random t the audit recomputes everything on ``bars[:t+1]`` and
compares row t with the computation on the full series: every feature column,
the ensemble's probability and the regime label. Any difference means the
value at t used a bar after t; the offending columns are reported by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from core.features import compute

P_UP = "__ensemble_p_up"
REGIME = "__regime"


def _same(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    both_nan = np.isnan(a) & np.isnan(b)
    with np.errstate(invalid="ignore"):
        close = np.isclose(a, b, rtol=rtol, atol=atol)
    return both_nan | close


def truncation_audit(
    bars: pd.DataFrame,
    *,
    feature_fn: Callable[[pd.DataFrame], pd.DataFrame] = compute,
    model: Any = None,
    columns: list[str] | None = None,
    regime: Any = None,
    n_points: int = 5,
    min_t: int = 0,
    seed: int = 0,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> dict:
    """Return the audit report of ``bars`` (``ok`` is False when any column leaks).

    Parameters
    ----------
    bars
        The full series.
    feature_fn
        Features to audit (default :func:`core.features.compute`).
    model
        A fitted classifier with ``predict_proba``; audited on ``columns`` of the features.
    columns
        Feature columns the model expects (default: all).
    regime
        A fitted :class:`~core.models.regime.RegimeClassifier`.
    n_points
        How many random t to check (the second-to-last bar is always one of them:
        a one-bar look-ahead shows up there for certain).
    min_t
        Smallest t to draw (e.g. the feature warm-up).
    seed
        Seed for drawing the t.
    rtol, atol
        Tolerances of the float comparison (the recomputation is deterministic; these only absorb -0.0 and the like).
    """
    n = len(bars)
    if n < max(min_t + 3, 3):
        raise ValueError(f"the audit needs more than {min_t + 2} bars, got {n}")
    rng = np.random.default_rng(seed)
    candidates = np.arange(min_t, n - 1)
    picks = set(rng.choice(candidates, size=min(max(n_points - 1, 0), len(candidates)), replace=False).tolist())
    picks.add(n - 2)
    points = sorted(int(t) for t in picks)
    full = feature_fn(bars)
    cols = list(columns) if columns is not None else list(full.columns)
    p_full = None
    if model is not None:
        ok_rows = full[cols].notna().all(axis=1).to_numpy()
        p_full = np.full(n, np.nan)
        if ok_rows.any():
            p_full[ok_rows] = model.predict_proba(full.loc[ok_rows, cols].to_numpy(dtype=np.float64))[:, -1]
    reg_full = regime.classify(bars) if regime is not None else None
    offending: dict[str, list[str]] = {}

    def flag(name: str, t: int) -> None:
        offending.setdefault(name, []).append(pd.Timestamp(bars.index[t]).isoformat())

    for t in points:
        part = bars.iloc[: t + 1]
        trunc = feature_fn(part)
        a = full.iloc[t].reindex(full.columns).to_numpy(dtype=np.float64)
        b = trunc.iloc[t].reindex(full.columns).to_numpy(dtype=np.float64)
        for name in np.asarray(full.columns)[~_same(a, b, rtol, atol)]:
            flag(str(name), t)
        if model is not None and p_full is not None:
            # A sequence member needs the rows before t too (they are all <= t, so still causal).
            rows = trunc[cols].iloc[max(0, t + 1 - getattr(model, "context_rows_", 1)) : t + 1]
            rows = rows[rows.notna().all(axis=1)]
            ok_t = len(rows) and rows.index[-1] == trunc.index[t]
            p_t = model.predict_proba(rows.to_numpy(dtype=np.float64))[:, -1][-1] if ok_t else np.nan
            if not _same(np.array([p_full[t]]), np.array([p_t]), rtol, atol)[0]:
                flag(P_UP, t)
        if regime is not None and regime.classify(part).iloc[t] != reg_full.iloc[t]:
            flag(REGIME, t)
    checked = len(full.columns) + (model is not None) + (regime is not None)
    return {
        "ok": not offending,
        "bars": n,
        "points": [pd.Timestamp(bars.index[t]).isoformat() for t in points],
        "columns_checked": checked,
        "offending": sorted(offending),
        "details": offending,
    }
