"""A services paper session and paper broker fill with the configured fill model (slippage, volume cap), as the paper loop does."""

from __future__ import annotations

import pandas as pd
import pytest

from core import services
from core.clock import FixedClock
from core.config import load_settings
from core.domain import Bar, Order, Side
from core.risk.hook import UNLIMITED
from core.services import Context

IDX = pd.date_range("2024-01-01", periods=140, freq="D", tz="UTC")
CLOSE = [200.0 - i for i in range(115)] + [85.0 + 2.1 * i for i in range(1, 26)]  # a fall, then a rise: the 10/20 SMA cross buys once


def _ctx(tmp_path, sqlite_url, **trading):
    settings = load_settings(config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": sqlite_url},
                             log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False}, trading=trading)
    return Context.create(settings, clock=FixedClock(IDX[0].to_pydatetime()))


def _bars(i: int) -> list[Bar]:
    c = CLOSE[i]
    return [Bar("ZZZ", IDX[i].to_pydatetime(), c, c + 1, c - 1, c, 1_000.0)]


def test_paper_session_fills_at_the_open_moved_by_the_configured_slippage_and_capped_by_volume(tmp_path, sqlite_url):
    ctx = _ctx(tmp_path, sqlite_url, commission=0.001, slippage_bps=25.0, max_volume_share=0.05)
    session = services.paper_session("sma_cross", ["ZZZ"], params={"mode": "long_flat"}, cash=10_000.0, risk=UNLIMITED, ctx=ctx)
    for i in range(len(CLOSE)):
        ctx.clock.set(IDX[i].to_pydatetime())
        session.step(_bars(i))
    fills = session.broker.fills()
    assert fills, "the cross after bar 115 bought"
    first = fills[0]
    day = IDX.get_loc(pd.Timestamp(first.ts))
    # By hand: a market buy fills at the next bar's open, 25 bps worse: open x 1.0025; the fee is 0.1 % of that notional.
    assert first.side is Side.BUY
    assert first.price == pytest.approx(CLOSE[day] * 1.0025, rel=1e-12)
    assert first.fee == pytest.approx(first.quantity * first.price * 0.001, rel=1e-12)
    # 5 % of a 1,000-share bar: 50 shares a bar, the rest of the order keeps working on the next bars.
    order = session.manager.get(first.client_order_id)
    parts = [f.quantity for f in fills if f.client_order_id == order.client_order_id]
    assert order.quantity > 50 and parts[0] == 50.0 and len(parts) >= 2 and max(parts) <= 50.0
    assert sum(parts) == order.filled_quantity


def test_a_given_cost_replaces_its_setting_and_paper_broker_defaults_to_the_configured_model(tmp_path, sqlite_url):
    ctx = _ctx(tmp_path, sqlite_url, commission=0.001, slippage_bps=25.0, max_volume_share=0.05)
    session = services.paper_session("sma_cross", ["ZZZ"], cash=10_000.0, slippage_bps=0.0, risk=UNLIMITED, ctx=ctx)
    model = session.broker.fill_model
    assert (model.taker_fee, model.maker_fee, model.slippage_bps, model.max_volume_share) == (0.001, 0.001, 0.0, 0.05)
    broker = services.paper_broker(cash=10_000.0, ctx=ctx)
    broker.submit(Order("m1", "ZZZ", Side.SELL, 10.0))
    broker.on_bars(_bars(0))
    (fill,) = broker.fills()
    assert fill.price == pytest.approx(CLOSE[0] * (1 - 0.0025), rel=1e-12)  # a sell fills 25 bps below the open


def test_a_configured_paper_session_carries_the_protective_stop(tmp_path, sqlite_url):
    settings = load_settings(config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": sqlite_url},
                             log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False},
                             risk={"max_position_pct": 1.0, "stop": {"kind": "percent", "percent": 0.04}})
    ctx = Context.create(settings, clock=FixedClock(IDX[0].to_pydatetime()))
    session = services.paper_session("sma_cross", ["ZZZ"], params={"mode": "long_flat"}, cash=10_000.0, ctx=ctx)
    for i in range(len(CLOSE)):
        ctx.clock.set(IDX[i].to_pydatetime())
        session.step(_bars(i))
    stops = [o for o in session.manager.open_orders("ZZZ") if o.tags.get("protective") == "stop"]
    position = session.broker.portfolio.positions["ZZZ"]
    assert position.quantity > 0 and len(stops) == 1
    assert stops[0].quantity == position.quantity and stops[0].stop_price == pytest.approx(position.avg_price * 0.96, rel=1e-12)
