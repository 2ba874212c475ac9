"""Numeric helpers of the compiled risk path, each the twin of a Python function of the event path, operation for operation."""

from __future__ import annotations

import math

from numba import njit

EPS = 1e-9  # core.risk._bounds.EPS


@njit(cache=True)
def _block_sum(a, lo, n):
    """Numpy's pairwise-sum leaf (n <= 128): eight running sums, then the rest in order."""
    if n < 8:
        r = 0.0
        for k in range(n):
            r += a[lo + k]
        return r
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    k = 8
    stop = n - (n % 8)
    while k < stop:
        r0 += a[lo + k]
        r1 += a[lo + k + 1]
        r2 += a[lo + k + 2]
        r3 += a[lo + k + 3]
        r4 += a[lo + k + 4]
        r5 += a[lo + k + 5]
        r6 += a[lo + k + 6]
        r7 += a[lo + k + 7]
        k += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while k < n:
        res += a[lo + k]
        k += 1
    return res


@njit(cache=True)
def _split(n):
    n2 = n // 2
    return n2 - n2 % 8


@njit(cache=True)
def _sum_256(a, lo, n):
    if n <= 128:
        return _block_sum(a, lo, n)
    h = _split(n)
    return _block_sum(a, lo, h) + _block_sum(a, lo + h, n - h)


@njit(cache=True)
def _pairwise_sum(a, lo, n):
    """Sum ``a[lo:lo+n]`` (n <= 512) in numpy's pairwise order, so the mean is numpy's to the last bit.

    Written without recursion: numba's on-disk cache of a recursive function crashes when loaded.
    """
    if n <= 128:
        return _block_sum(a, lo, n)
    h = _split(n)
    return _sum_256(a, lo, h) + _sum_256(a, lo + h, n - h)


@njit(cache=True)
def _abs_linear_max(a, b, c, limit, hi):
    """:func:`core.risk._bounds.abs_linear_max`."""
    radius = limit - c
    tol = EPS * max(1.0, abs(limit))
    if abs(a + b * hi) <= radius + tol:
        return hi
    if radius < 0:
        return min(hi, max(-a / b, 0.0))
    x1 = (-radius - a) / b
    x2 = (radius - a) / b
    lo_s, hi_s = (x1, x2) if x1 <= x2 else (x2, x1)
    if hi < lo_s:
        return hi
    if hi_s < 0:
        return 0.0
    return min(hi, hi_s)


@njit(cache=True)
def _var_at(x, w0, d, mu, var, z):
    w = w0 + x * d
    return -(w * mu) - z * math.sqrt(max((w * var) * w, 0.0))


@njit(cache=True)
def _var_max(limit, hi, w0, d, mu, var, z):
    """:func:`core.risk._bounds.band_max` on the one-symbol parametric VaR (golden section, then bisection)."""
    tol = EPS * max(1.0, abs(limit))
    if _var_at(hi, w0, d, mu, var, z) <= limit + tol:
        return hi
    lo_, hi_ = 0.0, hi
    g = (math.sqrt(5) - 1) / 2
    for _ in range(80):
        x1, x2 = hi_ - g * (hi_ - lo_), lo_ + g * (hi_ - lo_)
        if _var_at(x1, w0, d, mu, var, z) <= _var_at(x2, w0, d, mu, var, z):
            hi_ = x2
        else:
            lo_ = x1
    argmin = 0.5 * (lo_ + hi_)
    argmin = min(max(argmin, 0.0), hi)
    if hi - argmin <= EPS * max(1.0, hi):
        argmin = hi
    if _var_at(argmin, w0, d, mu, var, z) > limit + tol:
        return argmin
    if _var_at(0.0, w0, d, mu, var, z) > limit + tol and argmin >= hi:
        return hi
    lo, up = argmin, hi
    for _ in range(100):
        mid = 0.5 * (lo + up)
        if _var_at(mid, w0, d, mu, var, z) <= limit + tol:
            lo = mid
        else:
            up = mid
    return lo


@njit(cache=True)
def _floor_to_lot(quantity, lot):
    """:func:`core.portfolio.portfolio.floor_to_lot`."""
    units = quantity / lot
    if abs(units - round(units)) <= 1e-9 * max(1.0, abs(units)):
        return quantity
    return math.floor(units) * lot


@njit(cache=True)
def _mean_true_range(high, low, close, i, window):
    """:func:`core.engine.protect.mean_true_range` of bars ``0..i``."""
    n = i + 1
    start = max(0, n - window)
    total = 0.0
    for j in range(start, n):
        tr = high[j] - low[j]
        if j > 0:
            tr = max(tr, abs(high[j] - close[j - 1]), abs(low[j] - close[j - 1]))
        total += tr
    return total / (n - start)
