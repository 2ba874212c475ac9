"""Every pre-trade limit: approve, shrink and veto cases with hand-computed quantities."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.clock import FixedClock
from core.domain import Order, RiskAction, Side
from core.risk.hook import make_risk_check, risk_check
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.state import MemoryStore
from core.risk.types import MarketState, OrderIntent, PortfolioState

EQ = 100_000.0
LOOSE = {"var_budget_pct": 1.0, "max_order_notional": 1e12, "max_orders_per_minute": 10_000}


@pytest.fixture(scope="module")
def returns() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n = 300
    a, f, g = rng.normal(0, 0.01, (3, n))
    return pd.DataFrame(
        {
            "A": a,
            "B": rng.normal(0, 0.01, n),
            "D": a + rng.normal(0, 0.001, n),  # ~0.995 correlated with A
            "E": a + rng.normal(0, 0.006, n),  # ~0.86 correlated with A
            "F": f,
            "G": g,
        }
    )


def make(clock: FixedClock | None = None, store=None, **limits) -> RiskEngine:
    return RiskEngine(RiskLimits(**{**LOOSE, **limits}), store or MemoryStore(), clock or FixedClock(datetime(2024, 1, 2, 15, tzinfo=UTC)))


def book(positions=None, equity=EQ, peak=None, day_start=None) -> PortfolioState:
    return PortfolioState(equity, equity, peak or equity, day_start or equity, positions or {})


def buy(sym, q, price=100.0, **kw) -> OrderIntent:
    return OrderIntent(sym, Side.BUY, q, price, **kw)


def sell(sym, q, price=100.0, **kw) -> OrderIntent:
    return OrderIntent(sym, Side.SELL, q, price, **kw)


def test_correlations_of_the_fixture_are_as_designed(returns):
    c = returns.tail(60).corr()
    assert c.loc["A", "D"] > 0.95 and 0.85 < c.loc["A", "E"] < 0.95 and abs(c.loc["A", "F"]) < 0.5


# -- position size -------------------------------------------------------------------------------
def test_position_limit_approve_shrink_veto(returns):
    e, m = make(), MarketState(returns)
    d = e.check(buy("A", 40), book(), m)
    assert d.action is RiskAction.APPROVE and d.quantity == 40
    d = e.check(buy("A", 80), book(), m)  # 5 % of 100k at 100 = 50 shares
    assert d.action is RiskAction.SHRINK and d.quantity == pytest.approx(50)
    assert "position capped at 5.00%" in d.reason
    d = e.check(buy("A", 10), book({"A": (50.0, 100.0)}), m)
    assert d.action is RiskAction.VETO and d.quantity == 0
    # Shorts count by absolute value.
    assert e.check(sell("A", 80), book(), m).quantity == pytest.approx(50)


def test_position_limit_scales_with_forecast_risk(returns):
    d = make().check(buy("A", 80), book(), MarketState(returns, risk_scale=0.5))
    assert d.action is RiskAction.SHRINK and d.quantity == pytest.approx(25)


def test_reducing_a_position_is_always_allowed(returns):
    e = make(max_orders_per_minute=1)
    # Prices moved: 80 shares at 100 are 8 % of equity, above the 5 % cap; selling some must pass.
    pf = book({"A": (80.0, 100.0)})
    assert e.check(sell("A", 10), pf, MarketState(returns)).action is RiskAction.APPROVE
    assert e.check(sell("A", 70), pf, MarketState()).action is RiskAction.APPROVE  # no data, no rate room: still closes
    # A flip is cut where the new short would exceed the cap: close 80, then at most 50 short.
    d = e.with_limits(max_orders_per_minute=100).check(sell("A", 200), pf, MarketState(returns))
    assert d.action is RiskAction.SHRINK and d.quantity == pytest.approx(130)


def test_lot_size_rounds_shrunk_quantity_down(returns):
    d = make().check(buy("A", 200, price=30.0, lot_size=10), book(), MarketState(returns))
    assert d.quantity == 160  # 5000 / 30 = 166.7 -> 160


# -- gross and net exposure ---------------------------------------------------------------------------------
def test_gross_exposure_approve_shrink_veto(returns):
    e, m = make(max_position_pct=1.0, max_gross_exposure=0.1, max_correlation=0.99, veto_correlation=0.999, max_cluster_pct=1.0), MarketState(returns)
    held = book({"B": (-80.0, 100.0)})  # 8,000 gross
    assert e.check(buy("A", 10), held, m).action is RiskAction.APPROVE
    d = e.check(buy("A", 50), held, m)
    assert d.action is RiskAction.SHRINK and d.quantity == pytest.approx(20)
    assert "gross exposure" in d.reason
    assert e.check(buy("A", 1), book({"B": (-100.0, 100.0)}), m).action is RiskAction.VETO


def test_net_exposure_approve_shrink_veto(returns):
    e, m = make(max_position_pct=1.0, max_net_exposure=0.1, max_correlation=0.99, veto_correlation=0.999, max_cluster_pct=1.0), MarketState(returns)
    held = book({"B": (80.0, 100.0)})  # net +8,000
    d = e.check(buy("A", 50), held, m)
    assert d.action is RiskAction.SHRINK and d.quantity == pytest.approx(20)
    assert "net exposure" in d.reason
    assert e.check(sell("A", 150), held, m).action is RiskAction.APPROVE  # net goes to -7,000
    assert e.check(buy("A", 1), book({"B": (100.0, 100.0)}), m).action is RiskAction.VETO


# -- notional and rate ------------------------------------------------------------------------------------------
def test_max_order_notional_approve_shrink_veto(returns):
    e, m = make(max_order_notional=4_000.0), MarketState(returns)
    assert e.check(buy("A", 30), book(), m).action is RiskAction.APPROVE
    d = e.check(buy("A", 45), book(), m)
    assert d.action is RiskAction.SHRINK and d.quantity == pytest.approx(40)
    # One whole share costs more than the cap: nothing is left after lot rounding.
    d = e.check(buy("A", 1, price=5_000.0, lot_size=1), book(), m)
    assert d.action is RiskAction.VETO and "max_order_notional" in d.reason


def test_orders_per_minute_approve_then_veto_then_approve_after_a_minute(returns):
    clock = FixedClock(datetime(2024, 1, 2, 15, tzinfo=UTC))
    e, m = make(clock, max_orders_per_minute=3), MarketState(returns)
    for _ in range(3):
        assert e.check(buy("A", 1), book(), m).action is RiskAction.APPROVE
        clock.advance(timedelta(seconds=10))
    d = e.check(buy("A", 1), book(), m)
    assert d.action is RiskAction.VETO and "max_orders_per_minute=3" in d.reason
    clock.advance(timedelta(seconds=31))  # the first order is now 61 s old
    assert e.check(buy("A", 1), book(), m).action is RiskAction.APPROVE
    # A vetoed order does not use up the budget: rate has no "shrink" (an order cannot be partly rate-limited).


# -- halts ---------------------------------------------------------------------------------------------------------------
def test_drawdown_halt_persists_until_a_person_resets_it(ctx, returns):
    e, m = make(ctx.clock, ctx.store), MarketState(returns)
    assert e.check(buy("A", 10), book(equity=89_000.0, peak=100_000.0), m).action is RiskAction.APPROVE  # 11 %
    d = e.check(buy("A", 10), book(equity=87_000.0, peak=100_000.0), m)  # 13 % > 12 %
    assert d.action is RiskAction.VETO and "drawdown" in d.reason
    # A flip is shrunk to the closing part; closing is approved.
    short = book({"A": (-10.0, 100.0)}, equity=87_000.0, peak=100_000.0)
    d = e.check(buy("A", 30), short, m)
    assert d.action is RiskAction.SHRINK and d.quantity == 10
    # Equity recovers and the process restarts: still halted (state lives in the settings table).
    fresh = make(ctx.clock, ctx.store)
    d = fresh.check(buy("A", 10), book(equity=99_000.0, peak=100_000.0), m)
    assert d.action is RiskAction.VETO and "a person must reset it" in d.reason
    assert ctx.store.get_setting("risk.halt.drawdown")["active"] is True
    fresh.reset_halt("alice", 88_000.0)
    assert fresh.check(buy("A", 10), book(equity=88_000.0, peak=100_000.0), m).action is RiskAction.APPROVE
    # After the reset, drawdowns count from the reset equity (or later highs): 88k -> 90k -> 79k is 12.2 %.
    assert fresh.check(buy("A", 1), book(equity=90_000.0, peak=100_000.0), m).action is RiskAction.APPROVE
    assert fresh.check(buy("A", 1), book(equity=79_000.0, peak=100_000.0), m).action is RiskAction.VETO
    events = [r.data.get("event") for r in ctx.store.audit_log(kind="risk")]
    assert events.count("halt_drawdown") == 2 and "reset_drawdown" in events


def test_daily_loss_cap_halts_for_the_rest_of_the_day(ctx, returns):
    e, m = make(ctx.clock, ctx.store), MarketState(returns)
    assert e.check(buy("A", 10), book(equity=97_500.0, day_start=100_000.0), m).action is RiskAction.APPROVE  # 2.5 %
    d = e.check(buy("A", 10), book(equity=96_500.0, day_start=100_000.0), m)  # 3.5 % > 3 %
    assert d.action is RiskAction.VETO and "daily loss cap" in d.reason
    # Later the same day, even after a rebound, and after a restart:
    ctx.clock.advance(timedelta(hours=5))
    restarted = make(ctx.clock, ctx.store)
    held = book({"A": (-10.0, 100.0)}, equity=99_000.0, day_start=100_000.0)
    d = restarted.check(buy("A", 25), held, m)
    assert d.action is RiskAction.SHRINK and d.quantity == 10
    # Next UTC day: trading resumes (the new day starts at the current equity).
    ctx.clock.advance(timedelta(hours=20))
    assert restarted.check(buy("A", 10), book(equity=96_500.0, day_start=96_500.0), m).action is RiskAction.APPROVE


def test_kill_switch_state_blocks_new_risk(returns):
    e, m = make(), MarketState(returns)
    e.state.set_kill_switch(True, "bob", "test")
    assert e.check(buy("A", 10), book(), m).action is RiskAction.VETO
    held = book({"A": (20.0, 100.0)})
    assert e.check(sell("A", 20), held, m).action is RiskAction.APPROVE
    d = e.check(sell("A", 30), held, m)
    assert d.action is RiskAction.SHRINK and d.quantity == 20 and "kill switch" in d.reason
    e.state.set_kill_switch(False, "bob")
    assert e.check(buy("A", 10), book(), m).action is RiskAction.APPROVE


# -- correlation and clusters ------------------------------------------------------------------------------
def test_correlation_approve_shrink_veto(returns):
    e, m = make(), MarketState(returns)
    held = book({"A": (30.0, 100.0)})
    assert e.check(buy("F", 40), held, m).action is RiskAction.APPROVE  # uncorrelated
    d = e.check(buy("E", 50), held, m)  # 0.85 < rho < 0.95: the 5 % cap is halved to 2,500
    assert d.action is RiskAction.SHRINK and d.quantity == pytest.approx(25)
    assert any(c.startswith("correlation: 0.") for c in d.checks)
    d = e.check(buy("D", 10), held, m)  # rho > 0.95: a near duplicate of A
    assert d.action is RiskAction.VETO and "correlated with the book" in d.reason
    # Shorting D against the A long is a hedge, not concentration.
    assert e.check(sell("D", 30), held, m).action is RiskAction.APPROVE


def test_correlated_cluster_cap_approve_shrink_veto(returns):
    e, m = make(max_cluster_pct=0.08, correlated_size_factor=1.0), MarketState(returns)
    assert e.check(buy("E", 30), book({"A": (40.0, 100.0)}), m).action is RiskAction.APPROVE  # 7,000 of 8,000
    d = e.check(buy("E", 50), book({"A": (40.0, 100.0)}), m)
    assert d.action is RiskAction.SHRINK and d.quantity == pytest.approx(40) and "cluster" in d.reason
    d = e.check(buy("E", 10), book({"A": (80.0, 100.0)}), m)
    assert d.action is RiskAction.VETO and "cluster" in d.reason


def test_missing_history_vetoes_new_risk(returns):
    e = make()
    d = e.check(buy("ZZZ", 1), book(), MarketState(returns))
    assert d.action is RiskAction.VETO and "no return history" in d.reason and "ZZZ" in d.reason
    assert e.check(buy("A", 1), book(), MarketState()).action is RiskAction.VETO


# -- VaR budget ---------------------------------------------------------------------------------------------
def test_var_budget_approve_shrink_veto_against_the_normal_formula(returns):
    e = make(max_position_pct=1.0, max_gross_exposure=5.0, max_net_exposure=5.0, var_budget_pct=0.01, var_level=0.99)
    m = MarketState(returns)
    r = returns["B"].tail(250)
    z = stats.norm.ppf(0.01)
    # Largest long weight w with -(w mu) - z w sigma <= 1 %:
    w_star = 0.01 / (-r.mean() - z * r.std(ddof=1))
    assert e.check(buy("B", 100), book(), m).action is RiskAction.APPROVE  # w = 0.1
    d = e.check(buy("B", 5_000), book(), m)
    assert d.action is RiskAction.SHRINK and "VaR" in d.reason
    assert d.quantity == pytest.approx(w_star * EQ / 100.0, rel=1e-6)
    full = book({"B": (d.quantity, 100.0)})
    assert e.check(buy("B", 5), full, m).action is RiskAction.VETO
    # Two assets: the book VaR uses the covariance, so an uncorrelated second asset still fits.
    two = e.check(buy("F", 50), book({"B": (0.5 * w_star * EQ / 100.0, 100.0)}), m)
    assert two.action is RiskAction.APPROVE
    wb, wf = 0.5 * w_star, 50 * 100.0 / EQ
    sub = returns[["B", "F"]].tail(250)
    wv = np.array([wb, wf])
    hand = -(wv @ sub.mean().to_numpy()) - z * math.sqrt(wv @ sub.cov().to_numpy() @ wv)
    assert e.portfolio_var({"B": wb * EQ, "F": wf * EQ}, EQ, returns) == pytest.approx(hand, rel=1e-9)
    assert hand < 0.01


# -- audit and hook -------------------------------------------------------------------------------------------------
def test_every_decision_is_audited_with_its_checks(ctx, returns):
    e, m = make(ctx.clock, ctx.store), MarketState(returns)
    e.check(buy("A", 10), book(), m)
    e.check(buy("A", 80), book(), m)
    e.check(buy("D", 10), book({"A": (30.0, 100.0)}), m)
    rows = [r for r in ctx.store.audit_log(kind="risk") if "action" in r.data]
    assert [r.data["action"] for r in rows] == ["veto", "shrink", "approve"]  # newest first
    assert rows[1].data["quantity"] == pytest.approx(50) and rows[1].data["intent"]["quantity"] == 80
    assert "position: limit 50 (position capped at 5.00% of equity)" in rows[1].data["checks"]
    assert rows[0].message.startswith("veto buy 0/10 D")


def test_order_manager_hook_checks_domain_orders(returns):
    e = make()
    hook = make_risk_check(e, lambda: book(), lambda: MarketState(returns, prices={"A": 100.0}))
    d = hook(Order("c1", "A", Side.BUY, 80.0), None)
    assert d.action is RiskAction.SHRINK and d.quantity == pytest.approx(50)
    assert hook(Order("c2", "A", Side.BUY, 10.0, limit_price=200.0), None).quantity == 10
    assert hook(Order("c3", "NOPRICE", Side.BUY, 1.0), None).action is RiskAction.VETO
    ctx = {"risk_engine": e, "portfolio": book, "market": MarketState(returns, prices={"A": 100.0})}
    assert risk_check(Order("c4", "A", Side.BUY, 80.0), ctx).quantity == pytest.approx(50)
    assert risk_check(Order("c5", "A", Side.BUY, 1.0), {}).action is RiskAction.VETO


def test_limits_come_from_settings(ctx):
    from core import services

    engine = services.risk_engine(ctx)
    assert engine.limits.max_drawdown_pct == ctx.settings.risk.max_drawdown_pct == 0.12
    assert engine.limits.max_position_pct == 0.05 and engine.store is ctx.store
    assert services.risk_engine(ctx) is engine
    assert services.risk_status(ctx)["kill_switch"]["engaged"] is False
