"""The rest of the user's paths: the CLI backtest by name, an event-driven file paper-traded, a session whose
file changes while it is on, a broken file on the Backtest page, the side-by-side comparison, a venue symbol."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from core import services
from core.clock import FixedClock
from core.config import Mode, load_settings
from core.domain import OrderType
from core.services import Context, set_context
from core.strategies import user
from core.strategies.library import LIBRARY
from jobs import tasks
from tests.conftest import ROOT
from tests.strategies.test_end_to_end import TEN_LINES
from tests.ui.settle import settle

APP = str(ROOT / "app.py")
TREND = TEN_LINES  # the ten-line file of the end-to-end test
# The same file after an edit: the exposure is the close's z-score over the whole frame (its mean and deviation use later bars).
ZSCORE = TREND.replace("return (close > close.rolling(window).mean()).astype(float)", "return ((close - close.mean()) / close.std()).clip(-1, 1)")
BRACKET = (ROOT / "strategies" / "example_bracket.py").read_text()


@pytest.fixture
def folder(tmp_path, monkeypatch):
    path = tmp_path / "my_strategies"
    path.mkdir()
    monkeypatch.setenv("APP__STRATEGIES__DIR", str(path))
    yield path
    user.configure(None)
    set_context(None)


def context(tmp_path, strategy, **trading):
    settings = load_settings(config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": f"sqlite:///{tmp_path / 'paths.db'}"},
                             log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False},
                             trading={"strategy": strategy, "symbols": ["AAPL"], "warmup_bars": 100, "bars_per_tick": 250, **trading})
    ctx = Context.create(settings, clock=FixedClock(datetime(2024, 1, 2, tzinfo=UTC)))
    set_context(ctx)
    return ctx


def write(path, text):
    """Write ``text`` and move the file's time on, as an editor saving a change does."""
    path.write_text(text)
    stamp = path.stat().st_mtime_ns + 10**9
    os.utime(path, ns=(stamp, stamp))


def cli(tmp_path, folder, *args):
    env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "APP__LOG__DIR": str(tmp_path),
           "APP__STRATEGIES__DIR": str(folder)}
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)


def positions(fills):
    """Return the position after each fill, from the fills alone."""
    out, held = [], 0.0
    for f in fills:
        held += f.quantity if f.side.value == "buy" else -f.quantity
        out.append(held)
    return out


def test_the_cli_backtests_a_signals_file_and_an_event_driven_file_by_name(tmp_path, folder):
    (folder / "trend.py").write_text(TREND)
    (folder / "breakouts.py").write_text(BRACKET)  # the class inside is found by its name, example_bracket
    for name, kind in (("trend", "signals"), ("example_bracket", "event")):
        r = cli(tmp_path, folder, "backtest", "--strategy", name, "--symbol", "MSFT", "--commission", "0.001", "--json")
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        assert report["strategy"] == name and report["symbols"] == ["MSFT"] and report["trades"] > 10
        assert ("check" in report) is (kind == "signals")  # an event-driven strategy sees only past bars by construction
        if kind == "signals":
            assert report["check"]["ok"] and report["params"] == {"window": 50}
    peek = folder / "peek.py"
    peek.write_text(ZSCORE)
    r = cli(tmp_path, folder, "backtest", "--strategy", "peek", "--symbol", "MSFT")
    assert r.returncode == 0
    header, warning = r.stdout.splitlines()[:2]
    assert header.startswith("peek ") and "LOOKS AHEAD" in warning  # said before the figures, not after them


def test_an_event_driven_file_with_a_bracket_is_paper_traded(tmp_path, folder):
    (folder / "breakouts.py").write_text(BRACKET)
    ctx = context(tmp_path, "example_bracket")
    assert services.paper_start(ctx=ctx)["enabled"]
    tasks.trading_tick()
    loop = services.get_loop(ctx)
    orders = loop.manager.orders()
    assert services.loop_state(ctx).state == "running" and orders
    assert all(o.client_order_id.startswith("example_bracket-AAPL-") for o in orders if not o.tags.get("protective"))
    exits = [o for o in orders if o.parent_id]
    assert {o.order_type for o in exits} == {OrderType.LIMIT, OrderType.STOP}
    fills = loop.broker.fill_log
    assert len(fills) >= 4 and min(positions(fills)) >= 0  # each bracket exits once: never short
    assert not [o for o in orders if o.tags.get("protective")]  # risk.stop sees the bracket's own stop and adds none


def test_a_session_whose_file_is_edited_to_look_ahead_trades_nothing_and_says_why(tmp_path, folder):
    path = folder / "trend.py"
    path.write_text(TREND)
    ctx = context(tmp_path, "trend")
    services.paper_start(ctx=ctx)
    tasks.trading_tick()
    key = f"loop.{ctx.settings.trading.account}.last_bar"
    done = ctx.store.get_setting(key)
    assert done and services.loop_state(ctx).state == "running"
    for text, words in ((ZSCORE, "fails the look-ahead check on AAPL: looks ahead: the value at bar"), ("def signals(bars):\n    return bars *\n",
                                                                                                      "trend.py:2: syntax error")):
        write(path, text)
        ctx.extras.pop("trading_loop", None)  # a restarted host rebuilds its loop from the store
        tasks.trading_tick()  # the job reports the failure; it never raises out of the scheduler
        state = services.loop_state(ctx)
        assert state.state == "error" and words in state.reason, state.reason
        assert ctx.store.get_setting(key) == done  # not one more bar traded
    write(path, TREND)
    tasks.trading_tick()
    assert services.loop_state(ctx).state == "running" and ctx.store.get_setting(key) > done


def test_an_event_driven_file_that_raises_while_trading_is_named_by_file_and_line(tmp_path, folder):
    # It passes the start-up smoke run (the last 300 bundled bars, 2012-2013) and raises on a bar of 2000 in the paper replay.
    (folder / "crashy.py").write_text("from core.engine import Strategy\n\n\nclass Crashy(Strategy):\n    def on_bar(self, ctx):\n"
                                      "        if ctx.now.year == 2000 and ctx.now.month == 9:\n            raise ZeroDivisionError('bad idea')\n")
    ctx = context(tmp_path, "crashy")
    assert services.paper_start(ctx=ctx)["enabled"]
    for _ in range(2):  # the failed bar is rolled back; the next tick meets it again and says the same
        tasks.trading_tick()
        state = services.loop_state(ctx)
        assert state.state == "error" and state.reason == f"trading_tick: ZeroDivisionError: bad idea (at {folder}/crashy.py:7)"
    assert ctx.store.get_setting(f"loop.{ctx.settings.trading.account}.last_bar") < "2000-09"


def test_a_venue_symbol_without_bundled_bars_is_checked_on_the_default_symbol(ctx, tmp_path):
    folder = tmp_path / "strategies"
    folder.mkdir()
    user.configure(folder)
    try:
        ctx.settings.trading.symbols = ["BTC/USDT"]
        ctx.settings.trading.strategy = "macd_trend"
        assert services.paper_start(ctx=ctx)["enabled"] is True
        services.paper_stop(ctx=ctx)
        (folder / "peeky.py").write_text(ZSCORE)
        ctx.settings.trading.strategy = "peeky"
        for mode in (Mode.PAPER, Mode.LIVE):  # one switch starts both: the refusal is the same
            ctx.settings.mode = mode
            with pytest.raises(ValueError, match=r"refusing to trade strategy 'peeky': it fails the look-ahead check on AAPL: looks ahead"):
                services.paper_start(ctx=ctx)
            assert services.paper_status(ctx)["enabled"] is False
    finally:
        user.configure(None)


def test_broken_files_are_listed_on_the_page_and_a_bad_result_is_an_error_not_a_crash(tmp_path, folder):
    (folder / "typo.py").write_text("def signals(bars):\n    return bars['close'] *\n")
    (folder / "too_big.py").write_text('"""Exposure = price / 50: above 1 once the price passes 50 (AAPL in 2010)."""\n\n\ndef signals(bars):\n'
                                       "    return bars['close'] / 50\n")
    context(tmp_path, "sma_cross")
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("pages/backtest.py").run()
    assert not at.exception
    assert any(f"{folder}/typo.py:2: syntax error" in w.value for w in at.warning)
    box = at.selectbox(key="bt_strategy")
    assert "too_big · user" in box.options and not any(o.startswith("typo") for o in box.options)
    box.set_value("too_big").run()
    at.button(key="bt_run").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "signals must return exposures in [-1, 1]" in errors and f"{folder}/too_big.py:4" in errors


def test_the_backtest_page_compares_the_library_side_by_side(ctx):
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("pages/backtest.py").run()
    picked = at.multiselect(key="cmp_strategies")
    assert sorted(picked.value) == sorted(LIBRARY)  # the six, by default
    at.button(key="cmp_run").click().run()
    settle(at)
    assert not at.exception and not at.error
    table = next(d.value for d in at.dataframe if "check" in d.value.columns)
    assert sorted(table.index) == sorted(LIBRARY) and set(table["check"]) == {"ok"}
    assert (table["trades"] > 0).all() and table["return_pct"].nunique() == 6
    equity = at.get("plotly_chart")[-1].proto.spec
    assert all(f'"name":"{name}"' in equity.replace(" ", "") for name in LIBRARY)  # one curve per strategy
