"""The shell on every page (status strip, alerts banner) and the Trading page's order rows, through AppTest."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core import services
from core.risk.state import RiskState
from core.trading import toggle
from tests.trading.test_loop_state import _cfg

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    (at.switch_page(page) if page != "pages/dashboard.py" else at).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _sidebar_text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption])


def test_the_shell_shows_the_halt_in_the_strip_the_banner_and_a_toast(ctx):
    # AppTest drops what app.py draws around the page after switch_page; tests/ui/test_browser_shell.py checks every page
    page = "pages/dashboard.py"
    toggle.set_enabled(ctx.store, True)
    services.trading_loop(ctx, settings=_cfg()).tick()
    RiskState(ctx.store, ctx.clock).set_kill_switch(True, "ui", "drill")
    at = _open(page)
    assert at.error[0].value == "Trading halted: kill switch engaged by ui (drill)."  # the banner comes first on the page
    assert [t.value for t in at.toast] == ["Trading halted: kill switch engaged by ui (drill)."]
    text = _sidebar_text(at)
    assert ":red-background[halted]" in text and "kill switch engaged by ui (drill)" in text
    assert "**Strategy** sma_cross · AAPL, MSFT" in text and "**Venue** paper" in text and "replay of bundled history at " in text
    assert "(UTC) · replayed 0 s ago" in text


def test_strip_says_stopped_and_running(ctx):
    at = _open("pages/dashboard.py")
    assert ":gray-background[stopped]" in _sidebar_text(at)
    toggle.set_enabled(ctx.store, True)
    services.trading_loop(ctx, settings=_cfg()).tick()
    at = _open("pages/dashboard.py")  # a new session: AppTest keeps only the page's elements on a rerun
    assert ":green-background[running]" in _sidebar_text(at)


def test_open_orders_show_every_leg_price_and_cancel_per_row(ctx):
    bracket = services.queue_manual_order({"symbol": "AAPL", "side": "buy", "quantity": 1, "order_type": "limit", "limit_price": 20.0,
                                           "order_class": "bracket", "take_profit": 25.0, "stop_loss": 18.0}, ctx=ctx)
    oco = services.queue_manual_order({"symbol": "MSFT", "side": "sell", "quantity": 1, "order_type": "stop", "stop_price": 20.0,
                                       "order_class": "oco", "oco_limit_price": 30.0}, ctx=ctx)
    assert bracket["queued"] and oco["queued"], (bracket["reason"], oco["reason"])
    rows = {r["id"]: r for r in services.open_order_rows(ctx)}
    assert rows[bracket["client_order_id"]]["prices"] == "limit 20.00 · take-profit 25.00 · stop-loss 18.00"
    assert rows[oco["client_order_id"]]["prices"] == "stop 20.00 · second leg limit 30.00"
    at = _open("pages/trading.py")
    shown = "\n".join(str(m.value) for m in at.markdown)
    assert "None" not in shown and "stop 20.00 · second leg limit 30.00" in shown
    at.button(key=f"tr_cancel_{oco['client_order_id']}").click().run()
    assert not at.exception
    assert [q["client_order_id"] for q in services.pending_manual_orders(ctx)] == [bracket["client_order_id"]]


def test_fills_are_listed_newest_first_with_the_side_in_words(ctx):
    toggle.set_enabled(ctx.store, True)
    services.trading_loop(ctx, settings=_cfg(bars_per_tick=200)).tick()
    fills = services.fill_rows(ctx=ctx)
    assert len(fills) >= 2
    assert [f["time"] for f in fills] == sorted((f["time"] for f in fills), reverse=True)
    assert {f["side"] for f in fills} <= {"bought", "sold"}
    at = _open("pages/trading.py")
    frame = at.dataframe[-1].value
    assert list(frame["order"]) == [f["order"] for f in fills]


def test_a_refused_setting_never_says_saved_and_shows_what_is_in_force(ctx):
    at = _open("pages/settings.py")
    at.number_input(key="set_max_position_pct").set_value(2.0)
    at.button[0].click().run()
    assert [s.value for s in at.success if "saved" in s.value] == ["Risk limits saved; the risk engine uses them from the next order on."]
    at.number_input(key="set_max_position_pct").set_value(-5.0)
    at.button[0].click().run()
    assert not at.exception
    assert not [s.value for s in at.success if "saved" in s.value]  # the earlier success is gone
    assert [e.value for e in at.error] == ["Not saved: Max position (% of equity) = -5: must be above 0 (risk.max_position_pct)"]  # the typed -5 %
    assert services.risk_limits(ctx).max_position_pct == 0.02  # the store and the engine keep the last good value
    assert any("In force now (what the risk engine uses): max position 2 %" in c.value for c in at.caption)


def test_dashboard_counts_the_manual_queue(ctx):
    toggle.set_enabled(ctx.store, True)
    services.trading_loop(ctx, settings=_cfg()).tick()
    toggle.set_enabled(ctx.store, False)
    held = services.paper_book(ctx=ctx)["positions"]
    side = "sell" if len(held) and held["quantity"].iloc[0] > 0 else "buy"
    symbol = held["symbol"].iloc[0] if len(held) else "AAPL"
    assert services.queue_manual_order({"symbol": symbol, "side": side, "quantity": 1}, ctx=ctx)["queued"]
    at = _open("pages/dashboard.py")
    open_now = len(services.list_orders(open_only=True, ctx=ctx))
    assert any(c.value == f"{open_now} open at the paper broker · 1 manual ticket queued for the next bar" for c in at.caption)


def test_trades_are_newest_first_with_the_side_in_words():
    import pandas as pd

    run = services.backtest("sma_cross", symbol="AAPL")
    rows = services.trade_rows(run.trades)
    assert len(rows) == len(run.trades)
    assert rows["exit_ts"].is_monotonic_decreasing
    newest = run.trades.sort_values("exit_ts").iloc[-1]
    assert rows.iloc[0]["side"] == ("long" if newest["quantity"] > 0 else "short")
    assert rows.iloc[0]["quantity"] == abs(newest["quantity"])
    assert set(rows["side"]) == {"long", "short"}  # sma_cross 10/20 long_short trades both ways
    assert rows["days"].dtype.kind == "i" and not isinstance(rows["days"].iloc[0], pd.Timedelta)


def test_dashboard_prices_stop_at_the_session_clock(ctx):
    import json

    import pandas as pd

    toggle.set_enabled(ctx.store, True)
    services.trading_loop(ctx, settings=_cfg()).tick()
    asof = services.paper_asof(ctx=ctx)
    at = _open("pages/dashboard.py")
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)
    xs = pd.to_datetime(spec["data"][0]["x"], utc=True)
    assert xs.max() == asof and f"as of the session clock {asof:%Y-%m-%d}" in spec["layout"]["title"]["text"]
    at.toggle(key="dash_full_history").set_value(True).run()
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert pd.to_datetime(spec["data"][0]["x"], utc=True).max() > asof and "research" in spec["layout"]["title"]["text"]


def test_backtest_says_when_the_risk_engine_changed_the_run_and_compares_without_caps(ctx):
    at = _open("pages/backtest.py")
    at.button(key="bt_run").click().run()
    assert not at.exception
    rep = at.session_state["bt_result"][0].report
    changes = rep["risk_changes"]
    # all-in entries against a 5 % position cap: every entry is shrunk
    assert changes["shrink"] >= rep["trades"] > 0
    assert any(reason.startswith("position capped at 5.00% of equity") for (_, reason) in changes["reasons"])
    [warning] = [w.value for w in at.warning if "risk engine changed this run" in w.value]
    assert f"{changes['shrink']:,} orders shrunk" in warning
    at.button(key="bt_uncapped").click().run()
    # the page's commission defaults to trading.commission, the paper loop's setting
    free = services.lab_backtest(services.lab_frames(["AAPL"]), "sma_cross", rep["params"], cash=10_000.0,
                                 commission=services.fill_defaults(ctx)["commission"], risk="permissive")
    [table] = [d.value for d in at.dataframe if "without caps" in d.value.columns]
    assert table.loc["Return", "without caps"] == f"{free.report['return_pct']:+.2f} %"
    assert table.loc["Return", "with the configured caps"] == f"{rep['return_pct']:+.2f} %"
