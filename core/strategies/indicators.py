"""Causal indicators shared by the event-driven strategies and the compiled fast path.

Both paths call the same compiled functions, so they see bit-identical values
(a crossover decided on a 1e-15 difference cannot differ between them), and a
value at ``i`` depends only on inputs up to ``i``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def window_mean(values: np.ndarray, end: int, n: int) -> float:
    """Return the mean of ``values[end - n + 1 : end + 1]`` (NaN while fewer than ``n`` values exist)."""
    if end < n - 1 or end >= values.shape[0]:
        return np.nan
    # Four independent partial sums: the adds pipeline instead of waiting on each other.
    start = end - n + 1
    a = b = c = d = 0.0
    j = start
    while j + 3 <= end:
        a += values[j]
        b += values[j + 1]
        c += values[j + 2]
        d += values[j + 3]
        j += 4
    while j <= end:
        a += values[j]
        j += 1
    return ((a + b) + (c + d)) / n


@njit(cache=True)
def rolling_mean(values: np.ndarray, n: int) -> np.ndarray:
    """Return the simple moving average of every window (NaN for the first ``n - 1``)."""
    out = np.empty(values.shape[0])
    for i in range(values.shape[0]):
        out[i] = window_mean(values, i, n)
    return out


@njit(cache=True)
def cross_targets(close: np.ndarray, fast: int, slow: int, down_target: int) -> np.ndarray:
    """Return per-bar targets of an SMA cross: +1 on a cross up, ``down_target`` on a cross down, 2 = no decision.

    A cross up at ``i`` means ``fast[i-1] < slow[i-1]`` and ``fast[i] > slow[i]``
    (backtesting.py's ``crossover``); comparisons with NaN are false.
    """
    n = close.shape[0]
    out = np.full(n, 2, dtype=np.int8)
    fm = rolling_mean(close, fast)
    sm = rolling_mean(close, slow)
    for i in range(1, n):
        f0, s0, f1, s1 = fm[i - 1], sm[i - 1], fm[i], sm[i]
        if f0 < s0 and f1 > s1:
            out[i] = 1
        elif f0 > s0 and f1 < s1:
            out[i] = down_target
    return out
