"""No order reaches a broker without the risk check, unless the caller asked for UNLIMITED.

Every constructor and entry point that can send orders is tried: the order manager, the
wiring function, the backtest (direct and through the services), the services' paper
session and the paper loop. A spy on the paper broker records what reaches the venue, a
spy on the risk engine records what was checked (both delegate to the real code).
"""

from __future__ import annotations

import logging
from datetime import UTC

import pytest
from backtesting.test import GOOG

from core import services
from core.backtest import run_backtest
from core.brokers.paper import PaperBroker
from core.clock import FixedClock
from core.config import load_settings
from core.domain import Bar, Order, Side
from core.engine import UNLIMITED, build_engine
from core.execution.manager import OrderManager
from core.risk.hook import Unlimited
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.state import MemoryStore
from core.services import Context
from core.store import Store
from core.strategies import make_strategy
from core.trading import toggle


@pytest.fixture
def spies(monkeypatch):
    sent: list[str] = []
    checked: list[str] = []
    submit, check = PaperBroker.submit, RiskEngine.check

    def spy_submit(self, order):
        sent.append(order.client_order_id.split("~")[0])  # "<id>~stop" works an emulated order
        return submit(self, order)

    def spy_check(self, intent, portfolio, market=None):
        checked.append(intent.client_order_id)
        return check(self, intent, portfolio, market)

    monkeypatch.setattr(PaperBroker, "submit", spy_submit)
    monkeypatch.setattr(RiskEngine, "check", spy_check)
    return sent, checked


def _assert_all_checked(sent, checked):
    assert sent, "the run sent orders"
    assert sorted(set(sent) - set(checked)) == []


def _assert_compiled_checks_every_order(res):
    """The compiled risk path sends no order to a broker: each order it fills has a risk decision that allowed it."""
    assert res.path == "fast_risk" and len(res.fills) > 0
    d = res.decisions
    filled = d[d["status"] == "filled"]
    assert len(filled) == len(res.fills) and (filled["action"] != "veto").all()
    assert (d.loc[d["action"] == "veto", "status"] == "vetoed").all()


def _risk():
    return RiskEngine(RiskLimits(), store=MemoryStore())


def test_order_manager_and_build_engine_have_no_default_risk_check():
    clock = FixedClock(GOOG.index[0].tz_localize(UTC).to_pydatetime())
    broker = PaperBroker(clock, cash=10_000)
    with pytest.raises(TypeError):
        OrderManager(broker, clock)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="risk check"):
        OrderManager(broker, clock, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        build_engine(make_strategy("sma_cross"), ["GOOG"], broker, clock=clock)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="risk"):
        build_engine(make_strategy("sma_cross"), ["GOOG"], broker, clock=clock, risk=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        run_backtest(GOOG.iloc[:100], "sma_cross")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="risk"):
        run_backtest(GOOG.iloc[:100], "sma_cross", risk=None)  # type: ignore[arg-type]


def test_build_engine_and_run_backtest_check_every_order(spies):
    sent, checked = spies
    clock = FixedClock(GOOG.index[0].tz_localize(UTC).to_pydatetime())
    broker = PaperBroker(clock, cash=10_000)
    engine = build_engine(make_strategy("sma_cross"), ["GOOG"], broker, risk=_risk(), clock=clock)
    for ts, row in GOOG.iloc[:300].iterrows():
        when = ts.tz_localize(UTC).to_pydatetime()
        clock.set(when)
        engine.step([Bar("GOOG", when, row.Open, row.High, row.Low, row.Close, row.Volume)])
    engine.manager.submit(Order("manual-1", "GOOG", Side.BUY, 1.0))
    _assert_all_checked(sent, checked)
    sent.clear(), checked.clear()
    run_backtest(GOOG.iloc[:300], "sma_cross", symbol="GOOG", risk=_risk(), baseline=False, path="event")
    _assert_all_checked(sent, checked)
    _assert_compiled_checks_every_order(run_backtest(GOOG.iloc[:300], "sma_cross", symbol="GOOG", risk=_risk(), baseline=False))


def test_services_backtest_and_paper_session_check_every_order(spies, ctx):
    sent, checked = spies
    services.backtest("sma_cross", symbol="AAPL", path="event", ctx=ctx)  # default limits, on the event path
    _assert_all_checked(sent, checked)
    services.backtest("sma_cross", symbol="AAPL", risk="permissive", path="event", ctx=ctx)  # limits that never bind, still checked
    _assert_all_checked(sent, checked)
    _assert_compiled_checks_every_order(services.backtest("sma_cross", symbol="AAPL", ctx=ctx))  # the default: the compiled risk path
    sent.clear(), checked.clear()
    data = GOOG.iloc[:300]
    clock = FixedClock(data.index[0].tz_localize(UTC).to_pydatetime())
    ctx = Context(ctx.settings, Store(ctx.settings.database_url, clock=clock), clock, ctx.sample)
    session = services.paper_session("sma_cross", ["GOOG"], cash=10_000, ctx=ctx)  # default: the configured risk engine
    for ts, row in data.iterrows():
        when = ts.tz_localize(UTC).to_pydatetime()
        clock.set(when)
        session.step([Bar("GOOG", when, row.Open, row.High, row.Low, row.Close, row.Volume)])
    _assert_all_checked(sent, checked)


def test_the_paper_loop_checks_every_order(spies, tmp_path, sqlite_url):
    sent, checked = spies
    settings = load_settings(
        env_file=str(tmp_path / "none.env"), store={"database_url": sqlite_url}, log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False},
        trading={"strategy": "sma_cross", "symbols": ["AAPL", "MSFT"], "warmup_bars": 100, "bars_per_tick": 60, "commission": 0.0005},
    )
    ctx = Context.create(settings)
    toggle.set_enabled(ctx.store, True)
    loop = services.trading_loop(ctx)
    for _ in range(5):
        loop.tick()
    _assert_all_checked(sent, checked)


def test_unlimited_is_explicit_and_logged(spies, caplog):
    _sent, checked = spies
    Unlimited.warned = False
    with caplog.at_level(logging.WARNING, logger="core.risk.hook"):
        res = run_backtest(GOOG.iloc[:300], "sma_cross", symbol="GOOG", risk=UNLIMITED, baseline=False, path="event")
    assert res.orders and checked == []  # nothing checked, and the caller asked for it
    assert [r.getMessage() for r in caplog.records] == ["orders are running WITHOUT risk limits (explicit unlimited mode)"]
