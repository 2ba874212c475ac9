"""Causal indicators shared by the event-driven strategies and the compiled fast path.

Both paths call the same compiled functions, so they see bit-identical values
(a crossover decided on a 1e-15 difference cannot differ between them), and a
value at ``i`` depends only on inputs up to ``i``.
"""

from __future__ import annotations

from collections.abc import Hashable, MutableMapping

import numpy as np
from numba import njit


@njit(cache=True)
def _two_sum(a: float, b: float) -> tuple[float, float]:
    """Return ``(s, e)`` with ``s = fl(a + b)`` and ``s + e == a + b`` exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@njit(cache=True)
def window_mean(values: np.ndarray, end: int, n: int) -> float:
    """Return the mean of ``values[end - n + 1 : end + 1]`` (NaN while fewer than ``n`` values exist).

    The result is the exact mean rounded once (to within ~2**-100 relative; a plain
    running sum is off by up to a few ulps). Windows whose exact means are equal
    therefore give equal values, so an SMA cross never fires on a tie that exists only
    in rounding (IBM 2012-07-02, SMA 10/20: a naive sum made fast - slow = -2.8e-14).
    """
    if end < n - 1 or end >= values.shape[0]:
        return np.nan
    # Compensated sum (Ogita-Rump-Oishi Sum2): hi + lo is the window sum to ~n**2 * 2**-106.
    hi = 0.0
    lo = 0.0
    for j in range(end - n + 1, end + 1):
        hi, err = _two_sum(hi, values[j])
        lo += err
    hi, lo = _two_sum(hi, lo)
    # Divide the double-double by n: q, then the exact remainder hi - q*n (n has < 27 bits,
    # so Dekker's split of q makes both partial products exact) corrects q's last bit.
    nf = float(n)
    q = hi / nf
    c = 134217729.0 * q  # 2**27 + 1
    q_hi = c - (c - q)
    q_lo = q - q_hi
    p = q * nf
    p_err = (q_hi * nf - p) + q_lo * nf
    return q + (((hi - p) - p_err) + lo) / nf


@njit(cache=True)
def rolling_mean(values: np.ndarray, n: int) -> np.ndarray:
    """Return the simple moving average of every window (NaN for the first ``n - 1``)."""
    out = np.empty(values.shape[0])
    for i in range(values.shape[0]):
        out[i] = window_mean(values, i, n)
    return out


#: Two averages closer than this (relative) are a tie: prices written with a few decimals
#: and averaged by :func:`window_mean` land within 4 units of 2**-53 of each other when
#: their decimal means are equal, so only a difference beyond that is a real crossing.
TIE_RTOL = 4.5 * 2.0**-53


@njit(cache=True)
def side(a: float, b: float) -> int:
    """Return 1 when ``a`` is above ``b``, -1 below, 0 on a tie (within :data:`TIE_RTOL`) or NaN."""
    if not (a == a and b == b):
        return 0
    if abs(a - b) <= TIE_RTOL * max(abs(a), abs(b)):
        return 0
    return 1 if a > b else -1


@njit(cache=True)
def crossing(f0: float, s0: float, f1: float, s1: float) -> int:
    """Return 1 when ``f`` crosses above ``s`` from the previous to this bar, -1 below, else 0.

    A cross needs ``f`` strictly on one side before and strictly on the other side now
    (backtesting.py's ``crossover``); a tie on either bar is no cross.
    """
    before, now = side(f0, s0), side(f1, s1)
    if before == -1 and now == 1:
        return 1
    if before == 1 and now == -1:
        return -1
    return 0


@njit(cache=True)
def cross_targets(close: np.ndarray, fast: int, slow: int, down_target: int) -> np.ndarray:
    """Return per-bar targets of an SMA cross: +1 on a cross up, ``down_target`` on a cross down, 2 = no decision.

    A cross up at ``i`` means ``fast[i-1] < slow[i-1]`` and ``fast[i] > slow[i]``, each beyond
    a tie (see :func:`crossing`).
    """
    return cross_targets_of(rolling_mean(close, fast), rolling_mean(close, slow), down_target)


@njit(cache=True)
def cross_targets_of(fm: np.ndarray, sm: np.ndarray, down_target: int) -> np.ndarray:
    """Return :func:`cross_targets` from the two moving averages already computed (e.g. shared by a sweep's trials)."""
    n = fm.shape[0]
    out = np.full(n, 2, dtype=np.int8)
    for i in range(1, n):
        cross = crossing(fm[i - 1], sm[i - 1], fm[i], sm[i])
        if cross == 1:
            out[i] = 1
        elif cross == -1:
            out[i] = down_target
    return out


def shared_rolling_mean(values: np.ndarray, n: int, memo: MutableMapping[Hashable, np.ndarray] | None) -> np.ndarray:
    """Return :func:`rolling_mean` of ``values``, kept in ``memo`` (a mapping that belongs to ``values``) for the next caller.

    Trials of a sweep on one symbol share their averages this way: 1,000 (fast, slow) pairs need
    only the ~250 distinct windows, each computed once. The array returned is read-only.
    """
    if memo is None:
        return rolling_mean(values, n)
    key = ("sma", int(n))
    out = memo.get(key)
    if out is None:
        out = rolling_mean(values, n)
        out.flags.writeable = False
        memo[key] = out
    return out
