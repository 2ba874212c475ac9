"""Fixed-window return statistics for the pre-trade checks: numpy on arrays, no pandas indexing per order."""

from __future__ import annotations

import math
from collections.abc import Callable
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


def corr_with(arr: np.ndarray, min_periods: int) -> np.ndarray:
    """Return the Pearson correlation of column 0 of ``arr`` with each other column (pairwise-complete rows).

    The same numbers as ``pd.DataFrame(arr).corr(min_periods=min_periods)[0].drop(0)`` (NaN where
    fewer than ``min_periods`` rows have both values or a variance is 0), computed for one column
    instead of the whole matrix: O(k) per order instead of O(k^2) for a book of k symbols.
    """
    y, x = arr[:, :1], arr[:, 1:]
    both = ~np.isnan(x) & ~np.isnan(y)
    n = both.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = np.where(both, x, 0.0)
        ym = np.where(both, y, 0.0)
        dx = np.where(both, x - xm.sum(axis=0) / n, 0.0)
        dy = np.where(both, y - ym.sum(axis=0) / n, 0.0)
        sxy, sxx, syy = (dx * dy).sum(axis=0), (dx * dx).sum(axis=0), (dy * dy).sum(axis=0)
        out = sxy / np.sqrt(sxx * syy)
    out[(n < max(min_periods, 1)) | ~(sxx * syy > 0)] = np.nan
    return out


def var_terms(arr: np.ndarray, w0: np.ndarray, j: int) -> tuple[float, float, float, float, float]:
    """Return ``(w0'mu, mu_j, w0'C w0, (C w0)_j, C_jj)`` for the returns ``arr`` (no NaN), C = ``np.cov(arr, ddof=1)``.

    A book ``w = w0 + t*e_j`` (an order in column ``j``) then has mean ``w0'mu + t*mu_j`` and variance
    ``w0'Cw0 + 2t(Cw0)_j + t^2 C_jj``: three dot products over the window, O(k * rows) per order
    instead of building the k x k covariance matrix, O(k^2 * rows).
    """
    mu = arr.mean(axis=0)
    dev = arr - mu
    book = dev @ w0
    n1 = arr.shape[0] - 1
    return float(w0 @ mu), float(mu[j]), float(book @ book) / n1, float(dev[:, j] @ book) / n1, float(dev[:, j] @ dev[:, j]) / n1


def book_var_at(arr: np.ndarray, w0: np.ndarray, j: int, step: float, z: float) -> Callable[[float], float]:
    """Return ``x -> parametric VaR`` (fraction of equity) of the book ``w0 + x*step*e_j`` on the returns ``arr``.

    The formula of ``RiskEngine.portfolio_var`` (``-(w'mu) - z*sqrt(w'Cw)``), on statistics computed once
    per check: :func:`var_terms` for a gap-free window of several symbols, else the covariance matrix
    (pandas' pairwise estimator over gaps).
    """
    if arr.shape[1] > 1 and arr.shape[0] >= 2 and not np.isnan(arr).any():
        m0, mj, a, b, c = var_terms(arr, w0, j)

        def fast(x: float) -> float:
            t = x * step
            return -(m0 + t * mj) - z * math.sqrt(max(a + 2 * t * b + t * t * c, 0.0))

        return fast
    mu, cov = window_stats(arr)
    d = np.zeros(arr.shape[1])
    d[j] = step

    def full(x: float) -> float:
        w = w0 + x * d
        return float(-(w @ mu) - z * math.sqrt(max(w @ cov @ w, 0.0)))

    return full
