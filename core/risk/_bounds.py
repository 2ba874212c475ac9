"""Largest order quantity a limit allows, for limits on convex functions of the quantity.

A limit ``f(q) <= limit`` on a convex ``f`` (exposure, position value, parametric
VaR) allows an interval of quantities. When the book already breaches the limit
(prices moved), quantities that move ``f`` towards the limit are allowed too, but
never ones that overshoot into a new breach on the other side (a flip from an
oversized long into an oversized short).
"""

from __future__ import annotations

import math
from collections.abc import Callable

EPS = 1e-9


def band_max(f: Callable[[float], float], limit: float, hi: float, argmin: float | None = None) -> float:
    """Return the largest q in [0, hi] allowed by a limit on a convex function ``f`` of the quantity.

    Allowed are the quantities inside the limit (``f(q) <= limit``) and, when the
    book starts outside it, the quantities on the way towards it (``q <= argmin f``):
    an order may improve a breached metric, never overshoot it into a new breach.
    """
    tol = EPS * max(1.0, abs(limit))
    if f(hi) <= limit + tol:
        return hi
    if argmin is None:
        # Golden-section search for the minimiser of the convex f on [0, hi].
        lo_, hi_ = 0.0, hi
        g = (math.sqrt(5) - 1) / 2
        for _ in range(80):
            x1, x2 = hi_ - g * (hi_ - lo_), lo_ + g * (hi_ - lo_)
            if f(x1) <= f(x2):
                hi_ = x2
            else:
                lo_ = x1
        argmin = 0.5 * (lo_ + hi_)
    argmin = min(max(argmin, 0.0), hi)
    if hi - argmin <= EPS * max(1.0, hi):
        argmin = hi  # the search converges to within rounding of the end: do not report a phantom shrink
    if f(argmin) > limit + tol:
        return argmin  # the band is out of reach: improve as far as the order goes
    if f(0.0) > limit + tol and argmin >= hi:
        return hi
    # f(argmin) <= limit < f(hi): bisect the band's upper edge between them.
    lo, up = argmin, hi
    for _ in range(100):
        mid = 0.5 * (lo + up)
        if f(mid) <= limit + tol:
            lo = mid
        else:
            up = mid
    return lo


def abs_linear_max(a: float, b: float, c: float, limit: float, hi: float) -> float:
    """Return :func:`band_max` for ``f(q) = |a + b q| + c`` in closed form (b != 0)."""
    radius = limit - c
    tol = EPS * max(1.0, abs(limit))
    if abs(a + b * hi) <= radius + tol:
        return hi
    if radius < 0:
        return float(min(hi, max(-a / b, 0.0)))
    lo_s, hi_s = sorted(((-radius - a) / b, (radius - a) / b))
    if hi < lo_s:
        return hi  # still approaching the band
    if hi_s < 0:
        return 0.0  # the band lies behind: every unit makes it worse
    return float(min(hi, hi_s))
