"""Protective stops (risk.stop): hand-computed exits, OCO take-profits, emulation at venues without the order types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pandas as pd
import pytest

from core.backtest.run import run_backtest
from core.brokers.base import Capabilities
from core.brokers.paper import PaperBroker
from core.brokers.paper.broker import PAPER_CAPABILITIES
from core.brokers.paper.fill_model import FillModel
from core.clock import FixedClock
from core.domain import Bar, Instrument, OrderStatus, OrderType
from core.engine import UNLIMITED, StopPolicy, Strategy, build_engine
from core.engine.protect import mean_true_range

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class EnterOnce(Strategy):
    """Go long (or short) on the bar ``at`` and never trade again."""

    name = "enter_once"
    defaults: ClassVar[dict[str, Any]] = {"at": 0, "direction": 1}

    def on_bar(self, ctx) -> None:
        for symbol in ctx.symbols:
            if len(ctx.history(symbol)) == self.params["at"] + 1:
                ctx.target(symbol, self.params["direction"])


def _run(rows: list[tuple[float, float, float, float]], policy: StopPolicy | None, caps: Capabilities = PAPER_CAPABILITIES, **params: Any):
    clock = FixedClock(T0)
    broker = PaperBroker(clock, cash=10_000.0, fill_model=FillModel(), capabilities=caps, instruments={"X": Instrument("X", tick_size=0.0, lot_size=1.0)})
    engine = build_engine(EnterOnce(**params), ["X"], broker, risk=UNLIMITED, clock=clock, stop=policy)
    for i, (o, h, lo, c) in enumerate(rows):
        ts = T0 + timedelta(days=i)
        clock.set(ts)
        engine.step([Bar("X", ts, o, h, lo, c, 1e6)])
    return engine, broker


def _exits(broker):
    return [(f.side.value, f.quantity, f.price, f.ts) for f in broker.fills()[1:]]


# bar 0 decides, bar 1 fills the entry at its open 100 (100 shares of 10,000); the stop works from bar 2.
ENTRY = [(100.0, 101.0, 99.0, 100.0), (100.0, 102.0, 97.0, 101.0)]


def test_percent_stop_exits_at_the_stop_on_the_first_bar_whose_low_reaches_it():
    bars = [*ENTRY, (101.0, 103.0, 96.0, 100.0), (99.0, 100.0, 94.0, 96.0), (96.0, 97.0, 90.0, 91.0)]
    engine, broker = _run(bars, StopPolicy("percent", percent=0.05))
    assert broker.fills()[0].price == 100.0 and broker.fills()[0].quantity == 100
    # 96 > 95 on bar 2; bar 3's low 94 <= 95 = 100 * (1 - 5 %): out at the stop price
    assert _exits(broker) == [("sell", 100.0, pytest.approx(95.0), T0 + timedelta(days=3))]
    assert engine.portfolio.quantity("X") == 0
    stop = next(o for o in engine.manager.orders() if o.client_order_id.endswith("-sl"))
    assert stop.order_type is OrderType.STOP and stop.stop_price == pytest.approx(95.0) and stop.status is OrderStatus.FILLED


def test_percent_stop_fills_at_the_open_when_the_bar_gaps_below_it():
    bars = [*ENTRY, (101.0, 103.0, 96.0, 100.0), (93.0, 94.0, 90.0, 92.0)]
    _, broker = _run(bars, StopPolicy("percent", percent=0.05))
    assert _exits(broker) == [("sell", 100.0, 93.0, T0 + timedelta(days=3))]


def test_short_position_stop_sits_above_the_entry():
    bars = [*ENTRY, (101.0, 104.0, 99.0, 103.0), (103.0, 106.0, 102.0, 105.5)]
    _, broker = _run(bars, StopPolicy("percent", percent=0.05), direction=-1)
    assert _exits(broker) == [("buy", 100.0, pytest.approx(105.0), T0 + timedelta(days=3))]


def test_without_a_policy_the_position_is_never_stopped():
    bars = [*ENTRY, (101.0, 103.0, 96.0, 100.0), (93.0, 94.0, 90.0, 92.0)]
    engine, broker = _run(bars, None)
    assert _exits(broker) == [] and engine.portfolio.quantity("X") == 100


TRAIL = [*ENTRY, (101.0, 103.0, 96.5, 102.0), (102.0, 108.0, 101.0, 107.0), (106.0, 106.5, 100.0, 101.0)]


def test_trailing_stop_follows_the_high():
    engine, broker = _run(TRAIL, StopPolicy("trailing", percent=0.05))
    # placed at bar 1's close (101 -> 95.95); bar 2: low 96.5 holds, high 103 -> 97.85; bar 3: high 108 -> 102.6;
    # bar 4 opens at 106 and its low 100 reaches 102.6: out at 102.6 (not at the 95 a fixed stop would give)
    assert _exits(broker) == [("sell", 100.0, pytest.approx(108 * 0.95), T0 + timedelta(days=4))]
    stop = next(o for o in engine.manager.orders() if o.client_order_id.endswith("-sl"))
    assert stop.order_type is OrderType.TRAILING_STOP and stop.trail_percent == pytest.approx(5.0)


def test_trailing_stop_is_emulated_with_native_stops_where_the_venue_has_none():
    caps = Capabilities(order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP}), time_in_force=PAPER_CAPABILITIES.time_in_force,
                        asset_classes=PAPER_CAPABILITIES.asset_classes, oco=False, bracket=False)
    _engine, broker = _run(TRAIL, StopPolicy("trailing", percent=0.05), caps=caps)
    assert _exits(broker) == [("sell", 100.0, pytest.approx(108 * 0.95), T0 + timedelta(days=4))]
    at_venue = [o for o in broker.orders() if o.client_order_id.endswith("~stop")]
    assert len(at_venue) == 1 and at_venue[0].order_type is OrderType.STOP


def test_take_profit_makes_an_oco_pair_and_its_fill_cancels_the_stop():
    bars = [*ENTRY, (101.0, 104.0, 98.0, 103.0), (104.0, 111.0, 103.0, 109.0), (100.0, 100.0, 80.0, 85.0)]
    engine, broker = _run(bars, StopPolicy("percent", percent=0.05, take_profit_r=2.0))
    # stop 95, take-profit 100 + 2 * 5 = 110: bar 3's high 111 reaches it; the later crash finds no stop left
    assert _exits(broker) == [("sell", 100.0, 110.0, T0 + timedelta(days=3))]
    legs = {o.client_order_id[-3:]: o for o in engine.manager.orders() if o.tags.get("protective")}
    assert legs["-tp"].status is OrderStatus.FILLED and legs["-tp"].limit_price == pytest.approx(110.0)
    assert legs["-sl"].status is OrderStatus.CANCELED and legs["-sl"].oco_group == legs["-tp"].oco_group is not None


def test_take_profit_pair_is_emulated_at_a_venue_without_oco():
    caps = Capabilities(order_types=PAPER_CAPABILITIES.order_types, time_in_force=PAPER_CAPABILITIES.time_in_force,
                        asset_classes=PAPER_CAPABILITIES.asset_classes, oco=False, bracket=False)
    bars = [*ENTRY, (101.0, 104.0, 98.0, 103.0), (104.0, 111.0, 103.0, 109.0), (100.0, 100.0, 80.0, 85.0)]
    _engine, broker = _run(bars, StopPolicy("percent", percent=0.05, take_profit_r=2.0), caps=caps)
    assert _exits(broker) == [("sell", 100.0, 110.0, T0 + timedelta(days=3))]
    assert {o.client_order_id[-3:]: o.status for o in broker.orders() if o.tags.get("protective")} == {"-sl": OrderStatus.CANCELED, "-tp": OrderStatus.FILLED}


def test_atr_stop_is_a_multiple_of_the_mean_true_range_at_placement():
    bars = [(100.0, 102.0, 98.0, 100.0), (100.0, 103.0, 99.0, 102.0), (102.0, 104.0, 100.0, 101.0), (101.0, 102.0, 99.0, 100.0),
            (100.0, 101.0, 95.0, 96.0), (96.0, 97.0, 90.0, 91.0)]
    # enter on bar 2's signal, filled at bar 3's open 101; ATR(3) at bar 3's close: true ranges 4 (103-99, |103-100|),
    # 4 (104-100, |104-102|), 3 (102-99, |99-101| = 2) -> 11/3; stop = 101 - 1.5 * 11/3 = 95.5; bar 4's low 95 hits it
    engine, broker = _run(bars, StopPolicy("atr", atr_multiple=1.5, atr_window=3), at=2)
    assert broker.fills()[0].price == 101.0
    stop = next(o for o in engine.manager.orders() if o.client_order_id.endswith("-sl"))
    assert stop.stop_price == pytest.approx(101 - 1.5 * 11 / 3)
    assert _exits(broker) == [("sell", broker.fills()[0].quantity, pytest.approx(95.5), T0 + timedelta(days=4))]


def test_mean_true_range_matches_talib_trange():
    import numpy as np
    import talib

    rng = np.random.default_rng(3)
    close = 100 + np.cumsum(rng.normal(size=50))
    high, low = close + rng.uniform(0.1, 2, 50), close - rng.uniform(0.1, 2, 50)
    assert mean_true_range(high, low, close, 14) == pytest.approx(talib.TRANGE(high, low, close)[-14:].mean(), rel=1e-12)


def test_strategy_exit_cancels_the_stop_so_both_never_fill():
    class InOut(Strategy):
        name = "in_out"
        defaults: ClassVar[dict[str, Any]] = {}

        def on_bar(self, ctx) -> None:
            n = len(ctx.history("X"))
            if n == 1:
                ctx.target("X", 1)
            elif n == 3:
                ctx.target("X", 0)

    clock = FixedClock(T0)
    broker = PaperBroker(clock, cash=10_000.0, instruments={"X": Instrument("X", tick_size=0.0, lot_size=1.0)})
    engine = build_engine(InOut(), ["X"], broker, risk=UNLIMITED, clock=clock, stop=StopPolicy("percent", percent=0.05))
    # the strategy's exit (decided on bar 2) fills at bar 3's open 94, below the 95 stop: only one sell may happen
    for i, (o, h, lo, c) in enumerate([*ENTRY, (101.0, 103.0, 96.0, 100.0), (94.0, 95.0, 90.0, 92.0)]):
        clock.set(T0 + timedelta(days=i))
        engine.step([Bar("X", T0 + timedelta(days=i), o, h, lo, c, 1e6)])
    sells = [f for f in broker.fills() if f.side.value == "sell"]
    assert [(f.quantity, f.price) for f in sells] == [(100.0, 94.0)] and engine.portfolio.quantity("X") == 0
    assert next(o for o in engine.manager.orders() if o.client_order_id.endswith("-sl")).status is OrderStatus.CANCELED


def test_a_strategy_bracket_holds_the_position_so_no_second_stop_is_placed():
    class Bracket(Strategy):
        """Bar 0: buy 100 at market with its own exits, a take-profit at 110 and a stop at 96, as one OCO pair."""

        name = "bracket"
        defaults: ClassVar[dict[str, Any]] = {}

        def on_bar(self, ctx) -> None:
            if len(ctx.history("X")) == 1:
                entry = ctx.buy("X", 100)
                for kind, price in ((OrderType.LIMIT, {"limit_price": 110.0}), (OrderType.STOP, {"stop_price": 96.0})):
                    ctx.sell("X", 100, order_type=kind, parent_id=entry.client_order_id, oco_group="exits", **price)
                assert len(ctx.open_orders("X")) == 3

    clock = FixedClock(T0)
    broker = PaperBroker(clock, cash=10_000.0, instruments={"X": Instrument("X", tick_size=0.0, lot_size=1.0)})
    engine = build_engine(Bracket(), ["X"], broker, risk=UNLIMITED, clock=clock, stop=StopPolicy("percent", percent=0.05))
    # entry at bar 1's open 100; bar 3's low 94 reaches both the bracket's stop (96) and where a 5 % stop would sit (95)
    for i, (o, h, lo, c) in enumerate([*ENTRY, (101.0, 103.0, 97.0, 100.0), (99.0, 100.0, 94.0, 95.0), (95.0, 96.0, 90.0, 91.0)]):
        clock.set(T0 + timedelta(days=i))
        engine.step([Bar("X", T0 + timedelta(days=i), o, h, lo, c, 1e6)])
    assert _exits(broker) == [("sell", 100.0, 96.0, T0 + timedelta(days=3))]  # one exit: never short
    assert engine.portfolio.quantity("X") == 0
    assert not [o for o in engine.manager.orders() if o.tags.get("protective")]  # the bracket's stop already protected it


def test_run_backtest_with_stops_takes_the_event_path_and_cuts_the_loss():
    idx = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    frame = pd.DataFrame([(100, 101, 99, 100), (100, 102, 97, 101), (101, 103, 96, 100), (99, 100, 94, 96), (96, 97, 90, 91), (91, 92, 85, 86)],
                         index=idx, columns=["open", "high", "low", "close"], dtype=float)
    plain = run_backtest(frame, "buy_and_hold", risk=UNLIMITED, baseline=False)
    stopped = run_backtest(frame, "buy_and_hold", risk=UNLIMITED, baseline=False, stop=StopPolicy("percent", percent=0.05))
    assert plain.path == "fast" and stopped.path == "event"
    # buy & hold re-enters after the stop: out at 95 on bar 3, back in at bar 4's open 96 (98 shares of 9,500);
    # that stop (91.2) is gapped through by bar 5's open 91: out at 91
    assert list(stopped.trades["exit_price"].round(6)) == [95.0, 91.0]
    assert stopped.report["final_equity"] == pytest.approx(10_000 - 100 * 5 + 98 * (91 - 96))
    assert plain.report["final_equity"] == pytest.approx(100 * 86)
