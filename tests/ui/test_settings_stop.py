"""The Settings page edits the protective stop (risk.stop) and the Backtest page's costs default to the loop's fill settings."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core import services

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_settings_page_saves_the_protective_stop_and_shows_it_in_force(ctx):
    at = _open("pages/settings.py")
    assert at.checkbox(key="set_stop_enabled").value is True and at.selectbox(key="set_stop_kind").value == "percent"
    at.selectbox(key="set_stop_kind").set_value("trailing")
    at.number_input(key="set_stop_percent").set_value(3.0)
    at.number_input(key="set_stop_take_profit_r").set_value(2.0)
    at.button[0].click().run()
    assert not at.exception
    stop = services.risk_limits(ctx).stop
    assert (stop.enabled, stop.kind, stop.percent, stop.take_profit_r) == (True, "trailing", 0.03, 2.0)
    assert any(c.value == "Protective stop in force: trailing · 3 % · take-profit 2R" for c in at.caption)
    at.checkbox(key="set_stop_enabled").set_value(False)
    at.button[0].click().run()
    assert services.risk_limits(ctx).stop.enabled is False
    assert any(c.value == "Protective stop in force: off" for c in at.caption)


def test_backtest_page_costs_default_to_the_loop_fill_settings(ctx):
    ctx.settings.trading.commission = 0.002
    ctx.settings.trading.slippage_bps = 7.0
    ctx.settings.trading.max_volume_share = 0.1
    at = _open("pages/backtest.py")
    assert at.number_input(key="bt_commission").value == 0.2
    assert at.number_input(key="bt_slippage").value == 7.0
    assert at.number_input(key="bt_volume_share").value == 10.0  # shown in percent, like every percentage on screen
