"""The risk gate's incremental state equals a batch recomputation at every order, where limits bind.

The reference below is the straightforward batch implementation: the high-water mark
and start-of-day equity scanned from the whole equity curve, the returns window rebuilt
with pandas ``pct_change`` over the whole history, and the VaR budget's mean and
covariance from pandas' pairwise estimators. The same backtest is run with the
production gate and with the reference; the inputs of every risk check, the decisions,
the orders and the fills must be identical.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import core.engine.risk_gate as gate
from core.backtest import run_backtest
from core.domain import Order
from core.engine.engine import Engine
from core.portfolio.portfolio import Portfolio
from core.risk._bounds import band_max
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.state import MemoryStore
from core.risk.types import MarketState, PortfolioState

# Tight limits so that the rules bind: position cap, VaR budget, daily loss cap and history on every
# dataset; gross exposure and order rate on the two-symbol ones; drawdown halt, correlation and the
# correlated cluster on the correlated pair (checked by hand when the limits were chosen).
LIMITS = RiskLimits(max_position_pct=0.4, max_gross_exposure=0.6, var_budget_pct=0.0012, daily_loss_cap_pct=0.004,
                    max_drawdown_pct=0.03, max_orders_per_minute=3, max_correlation=0.3, max_cluster_pct=0.5, min_history=20)
INCREMENTAL_PORTFOLIO, INCREMENTAL_MARKET = gate.portfolio_state, gate.market_state


def _walk(n: int, seed: int, freq: str, mix: np.ndarray | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0, 0.002, n) if mix is None else 0.8 * mix + 0.6 * rng.normal(0, 0.002, n)
    close = 100 * np.exp(np.cumsum(shocks))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = np.abs(rng.normal(0, 0.0005, n)) * close
    idx = pd.date_range("2021-01-04", periods=n, freq=freq, tz="UTC")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + spread, "low": np.minimum(open_, close) - spread,
                         "close": close, "volume": 1e6}, index=idx)


def _datasets() -> dict[str, dict[str, pd.DataFrame]]:
    one = {"AAA": _walk(3000, 1, "min")}
    base = np.random.default_rng(5).normal(0, 0.002, 2500)
    two = {"AAA": _walk(2500, 2, "10min", base), "BBB": _walk(2500, 3, "10min", base)}
    gap = _walk(800, 4, "h")
    gapped = {"AAA": _walk(800, 6, "h"), "BBB": gap.drop(gap.index[100:700:7])}  # missing bars: NaN returns
    return {"one symbol, minutes": one, "two correlated, 10 minutes": two, "two with gaps, hours": gapped}


def batch_portfolio_state(pf: Portfolio, now, pending: list[Order] | None = None) -> PortfolioState:
    """Return the portfolio view with peak and start-of-day equity scanned from the whole curve."""
    equity = pf.equity()
    curve = pf.equity_curve
    peak = max([p.equity for p in curve] + [equity])
    if not curve or now is None:
        day_start = equity
    else:
        before = [p.equity for p in curve if p.ts.date() < now.date()]
        day_start = before[-1] if before else curve[0].equity
    inc = INCREMENTAL_PORTFOLIO(pf, now, pending)
    assert inc.peak_equity == peak and inc.day_start_equity == day_start
    return PortfolioState(equity, inc.cash, peak, day_start, inc.positions)


def batch_market_state(engine: Engine, window: int = gate.RETURNS_WINDOW) -> MarketState:
    """Return the returns window from pandas ``pct_change`` over each symbol's whole history."""
    series = {s: pd.Series(h.close, index=pd.DatetimeIndex(h.timestamps())).pct_change().iloc[1:].tail(window)
              for s, h in engine.histories.items() if len(h) > 1}
    prices = {s: float(h.close[-1]) for s, h in engine.histories.items() if len(h)}
    if not series:
        return MarketState(None, prices)
    frame = pd.DataFrame(series)  # each symbol's own last window, aligned on the union of timestamps
    inc = INCREMENTAL_MARKET(engine, window).returns
    pd.testing.assert_frame_equal(inc, frame, check_freq=False, check_exact=False, rtol=1e-11, atol=1e-15, check_index_type=False,
                                  check_column_type=False)
    return MarketState(frame, prices)


class BatchRisk(RiskEngine):
    """The risk engine with the pandas window statistics (the reference for the numpy ones)."""

    def _history_rule(self, ctx, bind) -> None:
        rets = ctx.market.returns
        need = [ctx.intent.symbol, *(s for s in ctx.values if s != ctx.intent.symbol)]
        short = [s for s in need if rets is None or s not in rets.columns or rets[s].tail(self.limits.var_window).notna().sum() < self.limits.min_history]
        bind("history", ctx.close_qty if short else math.inf,
             f"no return history ({self.limits.min_history}+ rows) for {', '.join(sorted(short))}: VaR and correlation cannot be checked" if short else "")

    def _var_max(self, ctx, q: float) -> float:
        lim = self.limits
        cols = sorted({*ctx.values, ctx.intent.symbol})
        sub = ctx.market.returns[cols].tail(lim.var_window)
        mu = np.nan_to_num(sub.mean().to_numpy())
        cov = np.atleast_2d(sub.cov(min_periods=2).fillna(0.0).to_numpy())
        z = stats.norm.ppf(1 - lim.var_level)
        eq = ctx.portfolio.equity
        w0 = np.array([ctx.values.get(c, 0.0) / eq for c in cols])
        d = np.zeros(len(cols))
        d[cols.index(ctx.intent.symbol)] = ctx.step / eq
        return band_max(lambda x: float(-((w0 + x * d) @ mu) - z * math.sqrt(max((w0 + x * d) @ cov @ (w0 + x * d), 0.0))), lim.var_budget_pct, q)


def _run(frames, risk: RiskEngine):
    res = run_backtest(frames, "sma_cross", params={"fast": 5, "slow": 12}, cash=100_000.0, commission=0.0005, risk=risk, baseline=False, path="event")
    orders = [(o.client_order_id, o.side, o.quantity, str(o.status), o.reason) for o in res.orders]
    fills = [(f.client_order_id, f.quantity, f.price, f.fee) for f in res.fills]
    decisions = [(e["data"]["action"], e["data"]["quantity"], e["data"]["reason"], tuple(e["data"]["checks"]))
                 for e in risk.store.entries if e["kind"] == "risk" and "action" in e["data"]]
    return orders, fills, decisions


@pytest.mark.parametrize("name", list(_datasets()))
def test_incremental_risk_state_equals_batch_where_limits_bind(name, monkeypatch):
    frames = _datasets()[name]
    fast = _run(frames, RiskEngine(LIMITS, MemoryStore()))
    monkeypatch.setattr(gate, "portfolio_state", batch_portfolio_state)
    monkeypatch.setattr(gate, "market_state", batch_market_state)
    ref = _run(frames, BatchRisk(LIMITS, MemoryStore()))
    orders, fills, decisions = fast
    assert orders == ref[0]
    assert fills == ref[1]
    assert decisions == ref[2]
    # The limits bind: shrinks and vetoes happen, and entries are checked after a long history.
    actions = {d[0] for d in decisions}
    assert {"shrink", "veto"} <= actions, actions
    reasons = " ".join(d[2] for d in decisions)
    assert "VaR kept under" in reasons and "position capped" in reasons
    assert any(c.startswith("var: limit") for d in decisions for c in d[3])
    assert len(decisions) > 50
