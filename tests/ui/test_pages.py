"""Every page renders through streamlit's AppTest on a fresh store."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def app(ctx):
    at = AppTest.from_file(APP, default_timeout=60)
    return at


def test_dashboard_renders_candlestick_and_switches_symbol(app):
    app.run()
    assert not app.exception
    assert app.title[0].value == "Dashboard"
    box = app.selectbox(key="dash_symbol")
    assert "AAPL · 1d" in box.options and box.value == "AAPL · 1d"
    box.set_value("MSFT · 1d").run()
    assert not app.exception
    charts = app.get("plotly_chart")
    assert len(charts) == 1 and "MSFT" in charts[0].proto.spec
    assert any("No paper trading yet" in i.value for i in app.info)  # helpful empty state


def test_dashboard_shows_the_paper_account_after_ticks(app, ctx):
    from core.config import load_settings
    from core.services import trading_loop
    from core.trading import toggle

    cfg = load_settings(trading={"strategy": "sma_cross", "symbols": ["AAPL", "MSFT"], "warmup_bars": 100, "bars_per_tick": 150}).trading
    toggle.set_enabled(ctx.store, True)
    loop = trading_loop(ctx, settings=cfg)
    loop.tick()
    app.run()
    assert not app.exception
    equity = next(m for m in app.metric if m.label == "Equity")
    assert equity.value == f"{loop.broker.portfolio.equity():,.2f}"
    assert len(app.get("plotly_chart")) == 5  # equity/drawdown, three gauges, prices


def test_settings_saves_valid_limits_and_rejects_bad_ones(app, ctx):
    from core import services

    app.switch_page("pages/settings.py").run()
    assert not app.exception
    assert app.title[0].value == "Settings"
    # masked keys table and the paper-mode banner
    assert any("PAPER mode" in s.value for s in app.success)
    app.number_input[0].set_value(2.0)  # max position 2 %
    app.button[0].click().run()
    assert not app.exception
    assert services.risk_limits(ctx).max_position_pct == 0.02
    assert ctx.store.audit_log(kind="settings")[0].data["overrides"]["max_position_pct"] == 0.02


def test_save_risk_limits_rejects_out_of_range(ctx):
    import pytest

    from core import services
    from core.config import ConfigError

    with pytest.raises(ConfigError, match="risk.max_drawdown_pct"):
        services.save_risk_limits({"max_drawdown_pct": 0.5})
    assert services.risk_limits().max_drawdown_pct == 0.12  # nothing saved


def test_sidebar_toggle_persists_in_the_store(app, ctx):
    from core import services

    app.run()
    toggle = app.sidebar.toggle(key="sidebar_paper_toggle")
    assert toggle.value is False
    toggle.set_value(True).run()
    assert not app.exception
    assert services.paper_status()["enabled"] is True
    assert ctx.store.audit_log(kind="toggle")[0].actor == "ui"
    # a fresh session (e.g. after an app restart) shows the persisted state
    fresh = AppTest.from_file(APP, default_timeout=60)
    fresh.run()
    assert fresh.sidebar.toggle(key="sidebar_paper_toggle").value is True
    fresh.sidebar.toggle(key="sidebar_paper_toggle").set_value(False).run()
    assert services.paper_status()["enabled"] is False


def test_settings_tests_a_data_provider_connection(app, ctx):
    from tests.fakes.binance_fake import BinanceFake

    now_ms = int(ctx.clock.now().timestamp() * 1000) // 60_000 * 60_000 + 30_000
    with BinanceFake() as fake:
        fake.now_ms = now_ms
        fake.serve_klines("BTCUSDT", [(100.0, 101.0, 99.0, 100.5 + i, 3.0) for i in range(6)], start_ms=now_ms - 30_000 - 5 * 60_000)
        ctx.settings.data.base_url = fake.url
        app.switch_page("pages/settings.py").run()
        form_box = next(b for b in app.selectbox if b.label == "Provider")
        form_box.set_value("ccxt")
        next(t for t in app.text_input if t.label.startswith("Symbol")).set_value("BTC/USDT")
        next(t for t in app.text_input if t.label == "Bar interval").set_value("1m")
        next(b for b in app.button if b.label == "Test connection").click().run()
        assert not app.exception
        assert any("ccxt-binance BTC/USDT 1m: last closed bar" in s.value and "close 104.5" in s.value for s in app.success)
        ctx.settings.data.base_url = "http://127.0.0.1:9"
        next(b for b in app.button if b.label == "Test connection").click().run()
        assert any(e.value.startswith("binance: cannot read the exchange time: NetworkError") for e in app.error)



def test_sidebar_shows_the_live_feed_and_a_stale_data_halt(app, ctx):
    from core.trading import toggle

    toggle.set_enabled(ctx.store, True)
    toggle.report_status(ctx.store, last_tick_at=ctx.clock.now().isoformat(), halt="stale data", feed="ccxt-binance", feed_detail="live · polling",
                         stale="no new closed bar since 2024-01-02T01:19:00+00:00 (301 s)", last_bar="2024-01-02T01:19:00+00:00")
    app.run()
    assert not app.exception
    text = " ".join(c.value for c in app.sidebar.caption) + " ".join(m.value for m in app.sidebar.markdown)
    assert "**Feed** ccxt-binance live · polling" in text
    assert "stale data (no new closed bar since 2024-01-02T01:19:00+00:00 (301 s))" in text
