"""The user's path with no change to core/: a ten-line file in the strategies folder is seen on the
Backtest page, backtested there, checked by the CLI and paper-traded with the sidebar toggle; a file
that looks ahead is refused with the offending bar named."""

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from core import services
from core.clock import FixedClock
from core.config import load_settings
from core.services import Context, set_context
from core.strategies import user
from tests.conftest import ROOT

APP = str(ROOT / "app.py")
TEN_LINES = '''\
"""Long while the close is above its 50-day average."""
PARAMS = {"window": 50}
WARMUP = 60


def signals(bars, window=50):
    close = bars["close"]
    return (close > close.rolling(window).mean()).astype(float)
'''
PEEK = '''\
"""Trades on tomorrow's close."""
WARMUP = 10


def signals(bars):
    close = bars["close"]
    return (close.shift(-1) > close).astype(float)
'''


@pytest.fixture
def folder(tmp_path, monkeypatch):
    path = tmp_path / "my_strategies"
    path.mkdir()
    monkeypatch.setenv("APP__STRATEGIES__DIR", str(path))
    yield path
    user.configure(None)
    set_context(None)


def context(tmp_path, strategy):
    settings = load_settings(config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": f"sqlite:///{tmp_path / 'e2e.db'}"},
                             log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False},
                             trading={"strategy": strategy, "symbols": ["AAPL"], "warmup_bars": 100, "bars_per_tick": 60})
    ctx = Context.create(settings, clock=FixedClock(datetime(2024, 1, 2, tzinfo=UTC)))
    set_context(ctx)
    return ctx


def cli(tmp_path, folder, *args, env=None):
    env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "APP__LOG__DIR": str(tmp_path),
           "APP__STRATEGIES__DIR": str(folder), **(env or {})}
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)


def test_a_ten_line_file_is_backtested_checked_and_paper_traded(tmp_path, folder):
    (folder / "above_average.py").write_text(TEN_LINES)
    assert len(TEN_LINES.strip().splitlines()) <= 10
    ctx = context(tmp_path, "above_average")
    # Seen on the Backtest page with its parameter, and backtested there.
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("pages/backtest.py").run()
    assert not at.exception
    box = at.selectbox(key="bt_strategy")
    assert "above_average · user" in box.options and "macd_trend · library" in box.options
    box.set_value("above_average").run()
    assert at.number_input(key="bt_p_above_average_window").value == 50
    at.number_input(key="bt_commission").set_value(0.0)
    at.button(key="bt_run").click().run()
    assert not at.exception and not at.error
    ref = services.lab_backtest(services.lab_frames(["AAPL"]), "above_average", {"window": 50}, commission=0.0)
    assert ref.report["check"]["ok"] and ref.report["trades"] > 10
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Return"] == f"{ref.report['return_pct']:+.2f} %"
    # Checked by the CLI.
    r = cli(tmp_path, folder, "strategy", "check", "above_average", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"] is True
    # Paper-traded with the sidebar toggle, then one tick of the loop.
    home = AppTest.from_file(APP, default_timeout=120)  # (AppTest shows the sidebar on the entry page only)
    home.run()
    home.sidebar.toggle(key="sidebar_paper_toggle").set_value(True).run()
    assert not home.exception and not home.sidebar.error
    assert services.paper_status(ctx)["enabled"] is True
    loop = services.trading_loop(ctx)
    report = loop.tick()
    assert report.state == "running" and len(report.bars) == 60
    orders = loop.manager.orders()
    assert orders and all(o.client_order_id.startswith("above_average-AAPL-") for o in orders)
    # The loop (window evaluation) decided what the backtest (full-frame evaluation) decides on the same bars.
    bars = loop.feed.frames["AAPL"]
    traded = bars.loc[: report.bars[-1]]
    decided = type(loop.strategy)().exposures(traded)[-60:]
    first = next(i for i, e in enumerate(decided) if e > 0)
    assert orders[0].created_at.isoformat() == report.bars[first]


def test_a_look_ahead_file_is_refused_with_the_bar_named(tmp_path, folder):
    (folder / "peek.py").write_text(PEEK)
    ctx = context(tmp_path, "peek")
    r = cli(tmp_path, folder, "strategy", "check", "peek")
    assert r.returncode == 1 and "looks ahead: the value at bar 2000-" in r.stdout and "peek.py:5" in r.stdout  # where signals is defined
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.sidebar.toggle(key="sidebar_paper_toggle").set_value(True).run()
    assert not at.exception
    # (AppTest drops the sidebar block on reruns of an st.navigation app, on main too: read what the sidebar renders from its state)
    refused = at.session_state["sidebar_paper_refused"]
    assert "fails the look-ahead check" in refused and "looks ahead: the value at bar 2000-" in refused
    assert at.session_state["sidebar_paper_toggle"] is False
    assert services.paper_status(ctx)["enabled"] is False
    assert "refused" in ctx.store.audit_log(kind="toggle")[0].message
    start = cli(tmp_path, folder, "paper", "start", env={"APP__TRADING__STRATEGY": "peek", "APP__TRADING__SYMBOLS": '["AAPL"]'})
    assert start.returncode == 2 and "refusing to trade strategy 'peek'" in start.stderr and "looks ahead" in start.stderr
    # Backtests still run, causally, under a red warning.
    at.switch_page("pages/backtest.py").run()
    at.selectbox(key="bt_strategy").set_value("peek").run()
    at.button(key="bt_run").click().run()
    assert not at.exception
    assert any("fails the look-ahead check" in e.value for e in at.error)
