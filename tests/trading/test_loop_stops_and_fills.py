"""The paper loop with protective stops (risk.stop) and the shared fill model (trading.slippage_bps, max_volume_share)."""

from __future__ import annotations

import pandas as pd
import pytest

from core.backtest.run import run_backtest
from core.config import load_settings
from core.engine import StopPolicy
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.state import MemoryStore
from core.services import Context, fill_defaults, risk_limits, trading_loop
from core.trading import toggle

SYMBOLS = ["AAPL", "MSFT"]
WARMUP = 100


def _ctx(tmp_path, db_url, risk=None, **trading):
    settings = load_settings(
        env_file=str(tmp_path / "none.env"), store={"database_url": db_url}, log={"dir": str(tmp_path / "logs")},
        scheduler={"embedded": False}, risk=risk or {},
        trading={"strategy": "sma_cross", "symbols": SYMBOLS, "warmup_bars": WARMUP, "bars_per_tick": 40, "commission": 0.0005, **trading},
    )
    ctx = Context.create(settings)
    toggle.set_enabled(ctx.store, True)
    return ctx


def _orders(loop):
    return [(o.client_order_id, o.side.value, o.quantity, o.status.value, o.stop_price, round(o.avg_fill_price or 0, 9)) for o in loop.manager.orders()]


def _guards(loop):
    return sorted((o.client_order_id, o.order_type.value, o.quantity, o.stop_price, o.trail_percent) for o in loop.manager.open_orders()
                  if o.tags.get("protective"))


TRAILING = {"stop": {"kind": "trailing", "percent": 0.03, "take_profit_r": 3.0}}


def test_trailing_stops_with_take_profit_same_in_loop_and_backtest(tmp_path, sqlite_url):
    ctx = _ctx(tmp_path, sqlite_url, risk=TRAILING)
    loop = trading_loop(ctx)
    for _ in range(8):
        loop.tick()
    frames = {s: ctx.sample.bars(s).loc[: loop.last_processed] for s in SYMBOLS}
    risk = RiskEngine(RiskLimits.from_settings(risk_limits(ctx)), store=MemoryStore())
    bt = run_backtest(frames, "sma_cross", cash=100_000.0, commission=0.0005, risk=risk, warmup=WARMUP, baseline=False,
                      stop=StopPolicy.from_settings(risk_limits(ctx).stop))
    ours = _orders(loop)
    exits = [o for o in loop.manager.orders() if o.tags.get("protective") and o.status.value == "filled"]
    assert {o.tags["protective"] for o in exits} == {"stop", "take_profit"}, "both legs of the OCO pair fired somewhere in 320 bars"
    assert ours == [(o.client_order_id, o.side.value, o.quantity, o.status.value, o.stop_price, round(o.avg_fill_price or 0, 9)) for o in bt.orders]
    assert loop.broker.portfolio.equity() == pytest.approx(bt.equity.iloc[-1], rel=1e-12)


def test_stops_survive_a_restart_and_are_re_armed_from_the_store(tmp_path, sqlite_url):
    straight = trading_loop(_ctx(tmp_path / "a", f"sqlite:///{tmp_path}/a.db", risk=TRAILING))
    ctx = _ctx(tmp_path / "b", sqlite_url, risk=TRAILING)
    first = trading_loop(ctx)
    for _ in range(2):
        first.tick()
        straight.tick()
    while not _guards(first) and not first.feed.exhausted:  # stop where a position is open (deterministic data)
        first.tick()
        straight.tick()
    armed = _guards(first)
    assert armed, "a position is open with its stop working"
    restarted = trading_loop(ctx)  # a new process: nothing in memory
    restarted.recover()
    assert _guards(restarted) == armed
    at_venue = {o.client_order_id for o in restarted.broker.open_orders()}
    assert {g[0] for g in armed} <= at_venue  # working in the paper book again, trailing extremes included
    assert [o.stop_price for o in restarted.broker.open_orders() if o.tags.get("protective") == "stop"] == \
        [o.stop_price for o in first.broker.open_orders() if o.tags.get("protective") == "stop"]
    for _ in range(4):
        restarted.tick()
        straight.tick()
    assert _orders(restarted) == _orders(straight)
    later = [o for o in restarted.manager.orders() if o.tags.get("protective") and o.status.value == "filled" and o.updated_at > first.clock.now()]
    assert later, "a stop or take-profit fired after the restart"


def test_switching_stops_off_leaves_positions_unprotected(tmp_path, sqlite_url):
    loop = trading_loop(_ctx(tmp_path, sqlite_url, risk={"stop": {"enabled": False}}))
    for _ in range(4):
        loop.tick()
    assert loop.session()["stop"]["enabled"] is False
    assert not [o for o in loop.manager.orders() if o.tags.get("protective")]
    assert any(abs(p.quantity) > 0 for p in loop.broker.portfolio.positions.values())


def test_loop_paper_fills_carry_the_configured_slippage_and_volume_cap(tmp_path, sqlite_url):
    idx = pd.date_range("2024-01-01", periods=140, freq="D", tz="UTC")
    close = [200.0 - i for i in range(115)] + [85.0 + 2.1 * i for i in range(1, 26)]  # a fall, then a rise: the 10/20 SMA cross buys
    frame = pd.DataFrame({"open": close, "high": [c + 1 for c in close], "low": [c - 1 for c in close], "close": close,
                          "volume": [1_000.0] * 140}, index=idx)
    ctx = _ctx(tmp_path, sqlite_url, risk={"stop": {"enabled": False}, "max_position_pct": 1.0},
               symbols=["ZZZ"], params={"mode": "long_flat"}, warmup_bars=WARMUP, bars_per_tick=40, commission=0.001, slippage_bps=25.0, max_volume_share=0.05)
    assert fill_defaults(ctx) == {"commission": 0.001, "slippage_bps": 25.0, "max_volume_share": 0.05}
    loop = trading_loop(ctx, load=lambda s: frame)
    loop.tick()
    fills = loop.broker.fills()
    assert fills, "the cross after bar 120 bought"
    first = fills[0]
    day = idx.get_loc(pd.Timestamp(first.ts))
    # next-open market fill moved 25 bps against the buy: open * (1 + 0.0025); commission 0.1 % of that notional
    assert first.price == pytest.approx(frame["open"].iloc[day] * 1.0025, rel=1e-12)
    assert first.fee == pytest.approx(first.quantity * first.price * 0.001, rel=1e-12)
    # 5 % of a 1,000-share bar: 50 shares per bar; the rest of the order keeps working on the next bars
    assert [f.quantity for f in fills[:3]] == [50.0, 50.0, 50.0]
    order = loop.manager.get(first.client_order_id)
    assert order.quantity > 150 and [f.client_order_id for f in fills[:3]] == [order.client_order_id] * 3
    assert loop.session()["slippage_bps"] == 25.0 and loop.session()["max_volume_share"] == 0.05
