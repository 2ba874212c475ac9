"""The Dashboard's "Live vs backtest" panel (AppTest): empty before a diff, then the curves, match rate and divergences."""

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from core import services
from core.config import TradingSettings
from core.trading import toggle
from tests.ui.settle import settle

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_dashboard_runs_the_diff_and_lists_the_manual_ticket(ctx):
    toggle.set_enabled(ctx.store, True)
    cfg = TradingSettings(strategy="sma_cross", symbols=["AAPL", "MSFT"], warmup_bars=100, bars_per_tick=40)
    loop = services.trading_loop(ctx, settings=cfg)
    for _ in range(3):
        loop.tick()
    assert services.queue_manual_order({"symbol": "MSFT", "side": "buy", "quantity": 3}, ctx=ctx)["queued"]
    loop.tick()
    toggle.set_enabled(ctx.store, False)
    app = AppTest.from_file(APP, default_timeout=300)
    app.switch_page("pages/dashboard.py").run()
    assert not app.exception, app.exception
    assert any("No diff yet" in c.value for c in app.caption)
    app.button(key="dash_diff_run").click().run()  # the diff runs in the background: the click returns at once
    assert not app.exception, app.exception
    settle(app)
    assert not app.exception, app.exception
    out = services.diff_status(ctx=ctx)
    sent = loop.feed.calendar[100 + 3 * 40]  # the first bar after the ticket was queued
    assert out["first_divergence"]["cause"] == "manual_action" and pd.Timestamp(out["first_divergence"]["ts"]) == sent
    match = next(m for m in app.metric if m.label == "Orders matching")
    assert match.value == f"{out['match_pct']:.1f}%" and out["match_pct"] < 100
    assert next(m for m in app.metric if m.label == "Divergences").value == str(out["n_divergences"])
    table = next(d.value for d in app.dataframe if "cause" in d.value.columns)
    assert table["cause"].iloc[0] == "manual action" and len(table) == out["n_divergences"]
    assert any("First divergence" in m.value and "manual action" in m.value for m in app.markdown)
    assert len(out["equity"]["live"]) == len(out["equity"]["backtest"]) == 160


def test_the_diff_on_a_fresh_store_says_to_start_paper_trading(ctx):
    app = AppTest.from_file(APP, default_timeout=300)
    app.switch_page("pages/dashboard.py").run()
    app.button(key="dash_diff_run").click().run()
    settle(app)
    assert not app.exception and not app.error, (app.exception, [e.value for e in app.error])
    assert any("has no trading session" in i.value and "start paper trading first" in i.value for i in app.info)
