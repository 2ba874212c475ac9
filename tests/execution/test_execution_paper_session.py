"""A persisted paper-trading session: the same engine as the backtest, resumable from the store."""

from datetime import UTC

import pytest
from backtesting.test import GOOG

from core import services
from core.backtest import run_backtest
from core.clock import FixedClock
from core.domain import Bar
from core.portfolio import repo as prepo
from core.risk.hook import UNLIMITED
from core.services import Context
from core.store import Store


def _bars(frame):
    for ts, row in frame.iterrows():
        yield ts.tz_localize(UTC).to_pydatetime(), [Bar("GOOG", ts.tz_localize(UTC).to_pydatetime(), row.Open, row.High, row.Low, row.Close, row.Volume)]


def test_session_trades_like_the_backtest_and_resumes_its_account(ctx):
    data = GOOG.iloc[:300]
    clock = FixedClock(data.index[0].tz_localize(UTC).to_pydatetime())  # the fixture's clock starts in 2024
    ctx = Context(ctx.settings, Store(ctx.settings.database_url, clock=clock), clock, ctx.sample)
    ref = run_backtest(data, "sma_cross", symbol="GOOG", cash=10_000, commission=0.002, baseline=False, path="event", risk=UNLIMITED)
    session = services.paper_session("sma_cross", ["GOOG"], cash=10_000, commission=0.002, ctx=ctx, risk=UNLIMITED)
    for when, bars in _bars(data):
        ctx.clock.set(when)
        session.step(bars)
    pf = session.broker.portfolio
    assert [p.equity for p in pf.equity_curve] == list(ref.equity)
    store = ctx.store
    assert len(prepo.load_fills(store, "paper")) == len(ref.fills)
    assert len(prepo.load_trades(store, "paper")) == ref.report["trades"]
    assert [p.equity for p in prepo.load_equity(store, "paper")] == list(ref.equity)
    assert len(services.list_orders(ctx=ctx)) == len(ref.orders)
    assert services.order_events(ref.orders[0].client_order_id, ctx=ctx)[0].event == "OrderAccepted"
    # A restart resumes the same cash and positions.
    again = services.paper_session("sma_cross", ["GOOG"], cash=1.0, commission=0.002, ctx=ctx, risk=UNLIMITED)
    assert again.broker.portfolio.cash == pytest.approx(pf.cash)
    assert again.broker.portfolio.quantity("GOOG") == pf.quantity("GOOG")
    assert again.broker.portfolio.equity() == pytest.approx(pf.equity())
