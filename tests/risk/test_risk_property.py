"""Property: random order streams and price paths through the risk engine never leave the book in breach.

The test keeps its own position book and recomputes every limit with its own
formulas. After each approved fill the book must satisfy each limit, or (when
price moves had already pushed it out) be no worse on that metric than before
the order. Halts latch as the test sees them and then only closing orders pass.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.clock import FixedClock
from core.domain import Side
from core.risk.kill_switch import KillSwitch
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.types import MarketState, OrderIntent, PortfolioState

SYMBOLS = ("A", "B", "C")
LIMITS = RiskLimits(
    max_position_pct=0.05,
    max_gross_exposure=0.12,
    max_net_exposure=0.08,
    # Tighter than production so that every rule binds in some examples.
    max_drawdown_pct=0.012,
    daily_loss_cap_pct=0.006,
    var_budget_pct=0.0015,
    max_order_notional=3_000.0,
    max_orders_per_minute=3,
    max_correlation=0.6,
    veto_correlation=0.95,
    max_cluster_pct=1.0,
    var_window=60,
    correlation_window=60,
)
_rng = np.random.default_rng(11)
_a = _rng.normal(0, 0.01, 60)
RETURNS = pd.DataFrame({"A": _a, "B": 0.7 * _a + _rng.normal(0, 0.008, 60), "C": _rng.normal(0.0002, 0.015, 60)})
MU = RETURNS.mean().to_numpy()
COV = RETURNS.cov().to_numpy()
Z = 2.3263478740408408  # -norm.ppf(0.01)
TOL = 1e-6

step = st.tuples(
    st.sampled_from(SYMBOLS),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.floats(0.01, 120.0),
    st.lists(st.floats(-0.2, 0.2), min_size=3, max_size=3),
    st.one_of(st.integers(0, 15), st.integers(0, 4 * 3600)),
    st.booleans(),
)


def var_frac(pos: dict[str, float], px: dict[str, float], equity: float) -> float:
    w = np.array([pos[s] * px[s] / equity for s in SYMBOLS])
    return float(-(w @ MU) + Z * math.sqrt(max(w @ COV @ w, 0.0)))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=14), st.integers(0, 40))
def test_no_state_breaches_a_limit(steps, kill_at):
    clock = FixedClock(datetime(2024, 1, 2, 14, tzinfo=UTC))
    engine = RiskEngine(LIMITS, clock=clock)
    pos = dict.fromkeys(SYMBOLS, 0.0)
    px = {"A": 100.0, "B": 50.0, "C": 20.0}
    cash = 100_000.0
    peak = day_start = cash
    day = clock.now().date()
    dd_halt = False
    daily_halt_day = None
    sent: list[datetime] = []
    market = MarketState(RETURNS)

    def equity() -> float:
        return cash + sum(pos[s] * px[s] for s in SYMBOLS)

    def state() -> PortfolioState:
        return PortfolioState(equity(), cash, peak, day_start, {s: (pos[s], px[s]) for s in SYMBOLS if pos[s] != 0})

    for i, (sym, side, qty, moves, secs, _) in enumerate(steps):
        clock.advance(timedelta(seconds=secs))
        for s, mv in zip(SYMBOLS, moves, strict=True):
            px[s] *= 1 + mv
        if clock.now().date() != day:
            day, day_start = clock.now().date(), equity()
        eq = equity()
        peak = max(peak, eq)
        dd_halt = dd_halt or eq <= peak * (1 - LIMITS.max_drawdown_pct)
        if eq <= day_start * (1 - LIMITS.daily_loss_cap_pct):
            daily_halt_day = day
        killed = i >= kill_at

        if i == kill_at:
            # Flatten through the engine: every closing order must pass in full.
            for o in KillSwitch(engine.state).engage(state(), "property test", "hypothesis"):
                d = engine.check(o, state(), market)
                assert d.quantity == o.quantity, d
                pos[o.symbol] += o.quantity * o.side.sign
                cash -= o.quantity * o.side.sign * px[o.symbol]
            assert all(abs(q) < 1e-9 for q in pos.values())

        before = dict(pos)
        eq = equity()
        gross0 = sum(abs(pos[s] * px[s]) for s in SYMBOLS)
        net0 = abs(sum(pos[s] * px[s] for s in SYMBOLS))
        var0 = var_frac(pos, px, eq)
        intent = OrderIntent(sym, side, qty, px[sym])
        d = engine.check(intent, state(), market)
        assert 0.0 <= d.quantity <= qty * (1 + 1e-12)
        if not d.allowed:
            continue
        signed = d.quantity * side.sign
        pos[sym] += signed
        cash -= signed * px[sym]
        close = abs(before[sym]) if before[sym] * side.sign < 0 else 0.0
        reducing = d.quantity <= close + 1e-9
        if reducing:
            continue
        # From here the order added risk: every limit must hold, or the metric must not have got worse.
        assert not (dd_halt or killed or daily_halt_day == day), "a halted engine approved new risk"
        sent = [t for t in sent if clock.now() - t < timedelta(minutes=1)] + [clock.now()]
        assert len(sent) <= LIMITS.max_orders_per_minute
        assert d.quantity * px[sym] <= LIMITS.max_order_notional * (1 + TOL) or d.quantity <= close + 1e-9
        v = abs(pos[sym] * px[sym])
        assert v <= LIMITS.max_position_pct * eq * (1 + TOL), (v, eq)
        gross = sum(abs(pos[s] * px[s]) for s in SYMBOLS)
        net = abs(sum(pos[s] * px[s] for s in SYMBOLS))
        assert gross <= LIMITS.max_gross_exposure * eq * (1 + TOL) or gross <= gross0 * (1 + TOL)
        assert net <= LIMITS.max_net_exposure * eq * (1 + TOL) or net <= net0 * (1 + TOL)
        var1 = var_frac(pos, px, eq)
        assert var1 <= LIMITS.var_budget_pct + TOL or var1 <= var0 + TOL
    # The audit log holds one entry per decision (plus the kill switch's own entries).
    decisions = [e for e in engine.store.entries if "action" in e["data"]]
    assert len(decisions) >= len(steps)


def test_kill_switch_ignores_float_dust():
    """Regression: a 1.4e-14 leftover (float arithmetic of partial closes) got a closing order the engine vetoed."""
    clock = FixedClock(datetime(2024, 1, 2, 14, tzinfo=UTC))
    engine = RiskEngine(LIMITS, clock=clock)
    book = PortfolioState(100_000.0, 100_000.0, 100_000.0, 100_000.0, {"A": (1.4e-14, 100.0), "B": (-3.0, 50.0)})
    orders = KillSwitch(engine.state).engage(book, "dust", "test")
    assert [(o.symbol, o.quantity) for o in orders] == [("B", 3.0)]
    assert engine.check(orders[0], book, MarketState(RETURNS)).quantity == 3.0
