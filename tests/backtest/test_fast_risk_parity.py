"""The compiled risk-checked path takes the event path's decisions, fills and equity, limit by limit.

The reference is the event path (engine, order manager, paper broker, RiskEngine, Protector) on the
same bars: every risk decision (time, side, quantity, approve/shrink/veto, the reason naming the
limits that bound), every fill, the equity curve and the trades must be identical, on bundled daily
data (AAPL, S&P 500, BTC-USD) and a seeded one-minute series, with limits set so that the position
cap, the drawdown halt, the daily loss cap and the VaR budget each bind (counted on the event path).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest import run_backtest
from core.engine.protect import StopPolicy
from core.risk.hook import UNLIMITED
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.state import KEY_DAILY, MemoryStore
from core.services.data import load_bars

RULES = {"position": "position capped", "drawdown": "drawdown", "daily": "daily loss cap", "var": "VaR kept under"}


def minute_bars(n: int = 12_000, seed: int = 7) -> pd.DataFrame:
    """Return seeded one-minute bars (fat-tailed returns, several UTC days)."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-03-01 20:00", periods=n, freq="min", tz="UTC")
    close = 100 * np.exp(np.cumsum(rng.standard_t(4, n) * 0.0015))
    open_ = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.0003, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0008, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0008, n)))
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1e6}, index=idx)


DATA = {"AAPL": lambda: load_bars("AAPL"), "SPX": lambda: load_bars("SPX"), "BTC-USD": lambda: load_bars("BTC-USD"), "SYN-1m": minute_bars}
# Per dataset, limit sets whose union makes each of the four rules bind on the event path.
CAP_VAR = RiskLimits(max_position_pct=0.5, var_budget_pct=0.01)
HALTS = RiskLimits(max_position_pct=1.0, max_drawdown_pct=0.10, daily_loss_cap_pct=0.01, var_budget_pct=1.0)
CASES = {
    "AAPL": [CAP_VAR, RiskLimits(max_position_pct=1.0, daily_loss_cap_pct=0.004, max_drawdown_pct=0.9, var_budget_pct=1.0)],
    "SPX": [CAP_VAR, HALTS],
    "SYN-1m": [RiskLimits(max_position_pct=0.5, var_budget_pct=0.0004), HALTS],
}


def both(frame: pd.DataFrame, limits: RiskLimits, stop: StopPolicy | None, symbol: str, **kw):
    out = {}
    for path in ("event", "auto"):
        out[path] = run_backtest(frame, kw.pop("strategy", "sma_cross") if path == "auto" else kw.get("strategy", "sma_cross"), symbol=symbol,
                                 risk=RiskEngine(limits, MemoryStore()), path=path, baseline=False, commission=0.001, stop=stop,
                                 lot_size=1e-6 if "BTC" in symbol else 1.0, cash=100_000.0, **{k: v for k, v in kw.items() if k != "strategy"})
    return out["event"], out["auto"]


def assert_same(event, fast) -> None:
    assert event.path == "event" and fast.path == "fast_risk"
    pd.testing.assert_frame_equal(event.decisions, fast.decisions, check_exact=True)
    pd.testing.assert_series_equal(event.equity, fast.equity, check_exact=True, check_freq=False)
    pd.testing.assert_frame_equal(event.trades, fast.trades, check_exact=True)
    assert [(f.client_order_id, f.side, f.quantity, f.price, f.fee, f.ts) for f in event.fills] == \
           [(f.client_order_id, f.side, f.quantity, f.price, f.fee, f.ts) for f in fast.fills]
    assert event.report["final_equity"] == fast.report["final_equity"] and event.unsized == fast.unsized


def bound(decisions: pd.DataFrame) -> dict[str, int]:
    changed = decisions.loc[decisions["action"] != "approve", "reason"]
    return {rule: int(changed.str.contains(text, regex=False).sum()) for rule, text in RULES.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_compiled_risk_path_equals_event_path_with_every_limit_binding(name):
    frame = DATA[name]()
    counts = dict.fromkeys(RULES, 0)
    for limits in CASES[name]:
        event, fast = both(frame, limits, StopPolicy("percent", 0.05), name)  # the default risk.stop
        assert_same(event, fast)
        for rule, n in bound(event.decisions).items():
            counts[rule] += n
    assert all(n > 0 for n in counts.values()), counts  # each limit bound at least once on the event path


@pytest.mark.parametrize("stop", [None, StopPolicy("atr", atr_multiple=2.0, atr_window=10), StopPolicy("trailing", percent=0.03)])
def test_stop_kinds_and_crypto_lots_match(stop):
    event, fast = both(DATA["BTC-USD"](), CAP_VAR, stop, "BTC-USD")
    assert_same(event, fast)
    assert (event.decisions["order_type"] != "market").any() == (stop is not None)


def test_rate_limit_and_notional_cap_match_on_minute_bars():
    # One order a minute: a reversal's entry comes in the same minute as its closing order and is vetoed.
    limits = RiskLimits(max_position_pct=1.0, max_orders_per_minute=1, max_order_notional=20_000.0, var_budget_pct=1.0)
    event, fast = both(minute_bars(4_000), limits, StopPolicy("trailing", percent=0.01), "SYN")
    assert_same(event, fast)
    reasons = event.decisions["reason"]
    assert reasons.str.contains("max_orders_per_minute=1").any() and reasons.str.contains("max_order_notional").any()


def test_buy_and_hold_retries_vetoed_entries_the_same_way():
    event, fast = both(DATA["AAPL"](), RiskLimits(), StopPolicy("percent", 0.05), "AAPL", strategy="buy_and_hold")
    assert_same(event, fast)
    assert event.decisions["reason"].str.startswith("no return history (20+ rows)").sum() > 0


def test_auto_falls_back_to_the_event_path_for_what_the_kernel_does_not_model():
    frame = DATA["AAPL"]().iloc[:400]
    run = lambda risk, **kw: run_backtest(frame, "sma_cross", symbol="AAPL", risk=risk, baseline=False, **kw).path  # noqa: E731
    assert run(RiskEngine(RiskLimits(), MemoryStore())) == "fast_risk"
    assert run(RiskEngine(RiskLimits(), MemoryStore()), stop=StopPolicy("percent", 0.05, take_profit_r=2.0)) == "event"
    assert run(RiskEngine(RiskLimits(forecast_var=True), MemoryStore())) == "event"
    halted = MemoryStore()
    halted.set_setting(KEY_DAILY, {"day": "2001-01-02"})
    assert run(RiskEngine(RiskLimits(), halted)) == "event"  # state from before the run
    assert run(RiskEngine(RiskLimits(), MemoryStore()), warmup=30) == "event"
    assert run(UNLIMITED, stop=StopPolicy("percent", 0.05)) == "event"
    assert run(RiskEngine(RiskLimits(), MemoryStore()), path="event") == "event"


def test_services_report_the_same_risk_changes_on_both_paths(ctx):
    from core import services

    frames = {"AAPL": load_bars("AAPL", ctx=ctx)}
    pairs = [(services.backtest("sma_cross", symbol="AAPL", ctx=ctx), services.backtest("sma_cross", symbol="AAPL", path="event", ctx=ctx)),
             (services.lab_backtest(frames, "sma_cross", ctx=ctx), services.lab_backtest(frames, "sma_cross", path="event", ctx=ctx))]
    for auto, event in pairs:
        assert auto.path == "fast_risk" and event.path == "event"
        assert auto.report["risk_changes"] == event.report["risk_changes"] and auto.report["risk_changes"]["shrink"] > 0
        assert auto.report["final_equity"] == event.report["final_equity"]
