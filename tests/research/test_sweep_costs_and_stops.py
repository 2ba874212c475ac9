"""A sweep trial and a walk-forward window are the single backtest with the same inputs: one fill model, one protective stop.

The costs (commission, slippage, a volume cap that binds) and ``risk.stop`` reach every trial,
so a trial's final equity and trade count equal the Backtest page's run with the same
parameters (``lab_backtest``); the cap and the stops are checked by hand on that run's fills.
"""

from __future__ import annotations

import math

import pytest

from core import services
from core.backtest import run_backtest
from core.brokers.paper.fill_model import FillModel
from core.config import load_settings
from core.services import Context, set_context
from core.services.backtest import backtest_stop, make_backtest_risk

WINDOW = {"start": "2011-06-01", "end": "2012-12-31"}
COSTS = {"commission": 0.001, "slippage_bps": 10.0, "max_volume_share": 5e-7}  # AAPL trades ~1e8 shares a day: a cap of ~50 shares binds
PARAMS = {"fast": 10, "slow": 30}


@pytest.fixture
def stop_ctx(tmp_path, sqlite_url):
    settings = load_settings(config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": sqlite_url},
                             log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False},
                             risk={"stop": {"kind": "percent", "percent": 0.03}, "max_position_pct": 1.0})
    ctx = Context.create(settings)
    set_context(ctx)
    yield ctx
    set_context(None)


def test_a_sweep_trial_equals_the_single_backtest_with_the_same_costs_volume_cap_and_stops(stop_ctx):
    frames = services.lab_frames(["AAPL"], ctx=stop_ctx, **WINDOW)
    res = services.sweep("sma_cross", ["AAPL"], {"fast": [10], "slow": [30, 50]}, frames=frames, sequential=True, risk="configured",
                         ctx=stop_ctx, **COSTS)
    trial = res.trials[(res.trials["p_fast"] == 10) & (res.trials["p_slow"] == 30)].iloc[0]
    single = services.lab_backtest(frames, "sma_cross", PARAMS, risk="configured", ctx=stop_ctx, **COSTS)
    assert trial["final_equity"] == pytest.approx(single.report["final_equity"], rel=1e-12)
    assert trial["trades"] == single.report["trades"]

    # The cap binds (by hand: no fill takes more than floor(5e-7 x the bar's volume) shares, and some orders needed several bars) ...
    bars = frames["AAPL"]
    for fill in single.fills:
        assert fill.quantity <= math.floor(bars.loc[fill.ts, "volume"] * COSTS["max_volume_share"]) + 1e-9
    fills_per_order: dict[str, int] = {}
    for fill in single.fills:
        fills_per_order[fill.client_order_id] = fills_per_order.get(fill.client_order_id, 0) + 1
    assert sum(1 for n in fills_per_order.values() if n > 1) >= 5
    # ... and the 3 % protective stops fire (sma_cross goes long and short): a sell stop fills at its price or the lower open,
    # a buy stop at its price or the higher open, moved 10 bps against the order.
    stops = [o for o in single.orders if o.tags.get("protective") == "stop" and o.filled_quantity > 0]
    assert len(stops) >= 3 and {o.side.value for o in stops} == {"buy", "sell"}
    for order in stops:
        for fill in (f for f in single.fills if f.client_order_id == order.client_order_id):
            day_open = bars.loc[fill.ts, "open"]
            if order.side.value == "sell":
                assert fill.price == pytest.approx(min(order.stop_price, day_open) * (1 - 10.0 / 1e4), rel=1e-12)
            else:
                assert fill.price == pytest.approx(max(order.stop_price, day_open) * (1 + 10.0 / 1e4), rel=1e-12)
            assert fill.fee == pytest.approx(fill.quantity * fill.price * COSTS["commission"], rel=1e-12)

    # Each input reached the trial: without the stops, or without the cap, the same trial ends elsewhere.
    no_stop = services.lab_backtest(frames, "sma_cross", PARAMS, risk="permissive", ctx=stop_ctx, **COSTS)
    no_cap = services.lab_backtest(frames, "sma_cross", PARAMS, risk="configured", ctx=stop_ctx, **{**COSTS, "max_volume_share": 0.0})
    assert trial["final_equity"] != pytest.approx(no_stop.report["final_equity"], rel=1e-6)
    assert trial["final_equity"] != pytest.approx(no_cap.report["final_equity"], rel=1e-6)
    # The sweep id says what was swept: the same grid without the cap is another sweep, not a resumed one.
    other = services.sweep("sma_cross", ["AAPL"], {"fast": [10], "slow": [30, 50]}, frames=frames, sequential=True, risk="configured",
                           ctx=stop_ctx, **{**COSTS, "max_volume_share": 0.0})
    assert other.sweep_id != res.sweep_id and other.ran == 2


def test_a_walk_forward_test_window_equals_the_single_backtest_with_the_same_costs_and_stops(stop_ctx):
    frame = services.load_bars("AAPL", ctx=stop_ctx, start="2010-01-01", end="2012-12-31")
    wf = services.walk_forward("sma_cross", ["AAPL"], {"fast": [10], "slow": [30]}, frames={"AAPL": frame}, windows=1, sequential=True,
                               risk="configured", ctx=stop_ctx, **COSTS)
    chunk = len(frame) // 2
    # The one window trades the second half, the first half being history the strategy sees but never trades.
    ref = run_backtest(frame, "sma_cross", symbol="AAPL", params=PARAMS, cash=10_000.0, risk=make_backtest_risk("configured", stop_ctx),
                       warmup=chunk, baseline=False, stop=backtest_stop("configured", stop_ctx),
                       fill_model=FillModel.from_costs(COSTS["commission"], COSTS["slippage_bps"], COSTS["max_volume_share"]))
    window = wf.windows.iloc[0]
    assert window["test_trades"] == ref.report["trades"]
    assert window["test_return_pct"] == pytest.approx(ref.report["return_pct"], rel=1e-12)
    assert any(o.tags.get("protective") == "stop" and o.filled_quantity > 0 for o in ref.orders)
