"""Fixed-window return statistics for the pre-trade checks: numpy on arrays, no pandas indexing per order."""

from __future__ import annotations

from functools import lru_cache
from statistics import NormalDist

import numpy as np
import pandas as pd


@lru_cache(maxsize=8)
def norm_ppf(p: float) -> float:
    """Return the standard normal quantile at ``p`` (computed once per level, not per order)."""
    # The standard library's inverse CDF (Wichura's AS241, double precision): importing scipy.stats
    # for this one number cost every page ~1-3 s of its first load.
    return float(NormalDist().inv_cdf(p))


def window(returns: pd.DataFrame, symbols: list[str], window: int) -> np.ndarray:
    """Return the last ``window`` rows of ``returns[symbols]`` as a float array (no pandas indexing per order)."""
    cols = returns.columns
    pos = [cols.get_loc(s) for s in symbols]
    arr = returns.to_numpy(dtype=float)
    return arr[max(arr.shape[0] - window, 0) :, pos] if window > 0 else arr[:0, pos]


def window_stats(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the column means (NaN as 0) and the ``cov(min_periods=2)`` matrix (NaN as 0) of ``arr``.

    Without missing values this is plain numpy (``np.cov``, ddof=1), the same numbers as
    pandas' pairwise estimator at a fraction of its cost; with gaps it is pandas' pairwise one.
    """
    k = arr.shape[1]
    if not np.isnan(arr).any():
        if arr.shape[0] == 0:
            return np.zeros(k), np.zeros((k, k))
        mu = arr.mean(axis=0)
        cov = np.atleast_2d(np.cov(arr, rowvar=False, ddof=1)) if arr.shape[0] >= 2 else np.zeros((k, k))
        return mu, cov
    sub = pd.DataFrame(arr)
    return np.nan_to_num(sub.mean().to_numpy()), np.atleast_2d(sub.cov(min_periods=2).fillna(0.0).to_numpy())
