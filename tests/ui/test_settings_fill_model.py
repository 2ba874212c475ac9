"""The Settings page edits the fill model (commission, slippage, volume cap) and the protective stop that the paper loop trades with.

Values saved on the page reach a new context on the same database (another process: the
scheduler host) and a new paper session built there: its broker's fills carry the slippage
and the volume cap (hand-computed prices), and its position carries the saved stop.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import services
from core.brokers.paper.fill_model import FillModel
from core.config import load_settings
from core.services import Context, set_context
from core.trading import toggle

APP = str(Path(__file__).resolve().parents[2] / "app.py")
IDX = pd.date_range("2024-01-01", periods=140, freq="D", tz="UTC")
CLOSE = [200.0 - i for i in range(115)] + [85.0 + 2.1 * i for i in range(1, 26)]  # a fall, then a rise: the 10/20 SMA cross buys
FRAME = pd.DataFrame({"open": CLOSE, "high": [c + 1 for c in CLOSE], "low": [c - 1 for c in CLOSE], "close": CLOSE, "volume": [1_000.0] * 140},
                     index=IDX)


@pytest.fixture
def settings(tmp_path, sqlite_url):
    return load_settings(config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": sqlite_url}, log={"dir": str(tmp_path / "logs")},
                         scheduler={"embedded": False}, risk={"max_position_pct": 1.0},
                         trading={"strategy": "sma_cross", "symbols": ["ZZZ"], "params": {"mode": "long_flat"}, "warmup_bars": 100,
                                  "bars_per_tick": 40, "commission": 0.0005})


def _open_settings(ctx: Context) -> AppTest:
    set_context(ctx)
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/settings.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_fill_model_and_stop_saved_on_the_page_are_what_a_new_paper_session_trades_with(settings):
    page_ctx = Context.create(settings)
    try:
        at = _open_settings(page_ctx)
        assert at.number_input(key="set_fill_commission").value == pytest.approx(0.05)  # trading.commission 0.0005, in percent
        at.number_input(key="set_fill_commission").set_value(0.1)
        at.number_input(key="set_fill_slippage_bps").set_value(25.0)
        at.number_input(key="set_fill_max_volume_share").set_value(5.0)
        at.button(key="FormSubmitter:settings_fill_form-Save fill model").click().run()
        assert not at.exception, [e.message for e in at.exception]
        assert any("Fill model saved" in s.value for s in at.success)
        assert any(c.value == "Fill model in force: commission 0.1 % · slippage 25 bps · at most 5 % of a bar's volume" for c in at.caption)
        at.selectbox(key="set_stop_kind").set_value("percent")
        at.number_input(key="set_stop_percent").set_value(4.0)
        at.button(key="FormSubmitter:settings_risk_form-Save risk limits").click().run()
        assert not at.exception, [e.message for e in at.exception]
        # A bad value is refused with the key named, and the saved model stays in force.
        at.number_input(key="set_fill_slippage_bps").set_value(900.0)
        at.button(key="FormSubmitter:settings_fill_form-Save fill model").click().run()
        assert any("Not saved" in e.value and "trading.slippage_bps" in e.value for e in at.error)
    finally:
        set_context(None)

    # Another process on the same database (the scheduler host) reads what the page saved.
    ctx = Context.create(settings)
    assert services.fill_defaults(ctx) == {"commission": 0.001, "slippage_bps": 25.0, "max_volume_share": 0.05}
    stop = services.risk_limits(ctx).stop
    assert (stop.enabled, stop.kind, stop.percent) == (True, "percent", 0.04)
    toggle.set_enabled(ctx.store, True)
    loop = services.trading_loop(ctx, load=lambda s: FRAME)
    loop.tick()
    session = loop.session()
    assert (session["commission"], session["slippage_bps"], session["max_volume_share"]) == (0.001, 25.0, 0.05)
    assert session["stop"]["percent"] == 0.04
    assert loop.broker.fill_model == FillModel.from_costs(0.001, 25.0, 0.05)
    fills = loop.broker.fills()
    first = fills[0]
    day = IDX.get_loc(pd.Timestamp(first.ts))
    # By hand: the buy fills at the next bar's open moved 25 bps up, pays 0.1 % of that notional, takes 50 of the bar's 1,000 shares.
    assert first.price == pytest.approx(CLOSE[day] * 1.0025, rel=1e-12)
    assert first.fee == pytest.approx(first.quantity * first.price * 0.001, rel=1e-12)
    assert first.quantity == 50.0
    # The position carries the saved stop: 4 % under its average entry, for all of it.
    position = loop.broker.portfolio.positions["ZZZ"]
    (guard,) = [o for o in loop.manager.open_orders("ZZZ") if o.tags.get("protective") == "stop"]
    assert guard.quantity == position.quantity and guard.stop_price == pytest.approx(position.avg_price * 0.96, rel=1e-12)
