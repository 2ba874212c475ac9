"""The ledger's running high-water mark and start-of-day equity match a scan of the curve."""

from datetime import UTC, datetime, timedelta

import numpy as np

from core.domain import Bar, Fill, Side
from core.portfolio.portfolio import Portfolio


def _scan(curve, now, equity):
    """The textbook definition: last point before now's UTC day, else the first point; peak over all points and now."""
    peak = max([p.equity for p in curve] + [equity])
    if not curve:
        return peak, equity
    before = [p.equity for p in curve if p.ts.date() < now.date()]
    return peak, (before[-1] if before else curve[0].equity)


def test_peak_and_day_start_are_kept_incrementally_and_match_a_full_scan():
    rng = np.random.default_rng(7)
    pf = Portfolio(cash=10_000.0)
    t0 = datetime(2024, 1, 1, 9, tzinfo=UTC)
    pf.apply_fill(Fill("f1", "o1", "X", Side.BUY, 10.0, 100.0, 0.0, t0))
    price, ts = 100.0, t0
    for i in range(400):
        ts += timedelta(hours=int(rng.integers(1, 9)))
        price *= float(np.exp(rng.normal(0, 0.02)))
        pf.mark_bar(Bar("X", ts, price, price, price, price, 1.0))
        pf.snapshot(ts)
        if i % 7 == 0:  # a second snapshot at the same timestamp replaces the first
            pf.mark_bar(Bar("X", ts, price * 1.01, price * 1.01, price * 1.01, price * 1.01, 1.0))
            pf.snapshot(ts)
        now = ts + timedelta(minutes=int(rng.integers(0, 60 * 30)))
        peak, day = _scan(pf.equity_curve, now, pf.equity())
        assert pf.peak_equity() == peak
        assert pf.day_start_equity(now) == day
    # A curve loaded from outside (the store) is picked up too.
    other = Portfolio(cash=0.0)
    other.equity_curve = list(pf.equity_curve)
    assert other.day_start_equity() == _scan(pf.equity_curve, pf.equity_curve[-1].ts, 0.0)[1]
