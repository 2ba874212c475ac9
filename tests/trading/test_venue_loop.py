"""The trading loop on a real venue: Binance through ccxt against the wire-format fake on 127.0.0.1 (no internet).

The fake serves klines that move with its clock and fills orders at its own price, which
the test moves with the bars (the last closed bar's close). Bars come from the live feed
(``data.provider: venue``, the same base URL as the venue), orders go to the fake with our
client IDs, the fake's fills reach the loop's portfolio and the store, and the loop's cash
and positions equal the fake's after every tick.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.clock import FixedClock
from core.config import load_settings
from core.execution import repo as order_repo
from core.portfolio import repo as portfolio_repo
from core.services import Context, check_venue, set_context, trading_loop
from core.trading import toggle
from tests.fakes.binance_fake import BinanceFake
from tests.fakes.kits import SECRETS
from tests.trading._venue import VENUE_SYMBOL, WARMUP, Market, assert_book_equals_venue, series, venue_settings

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def fake():
    key, secret = SECRETS["binance"]
    with BinanceFake(api_key=key, api_secret=secret) as venue:
        venue.serve_klines(VENUE_SYMBOL, series())
        yield venue


def test_binance_end_to_end_live_feed_orders_at_the_venue_fills_in_the_store_and_the_dashboard(tmp_path, sqlite_url, fake):
    market = Market(fake, series(), WARMUP)
    ctx = Context.create(venue_settings(tmp_path, sqlite_url, fake), clock=market.clock)
    toggle.set_enabled(ctx.store, True)
    loop = trading_loop(ctx)
    loop.tick()
    session = ctx.store.get_setting("loop.paper.session")
    assert (session["broker"], session["venue"], session["feed"]) == ("binance", "binance (testnet)", "venue")
    assert session["cash"] == 100_000.0  # the venue's USDT, not trading.cash
    processed = 0
    for step in [1, 2.5, 7, 30, 60, 90, 45]:
        market.minutes(step)
        processed += len(loop.tick().bars)
        assert_book_equals_venue(loop, fake)
    assert processed > 200
    ours = loop.manager.orders()
    filled = [o for o in ours if o.status.value == "filled"]
    assert len(filled) > 4
    # The rest were refused by the venue (a spot account cannot sell what it does not hold): a known, final state.
    assert all(o.status.value == "rejected" and "insufficient balance" in (o.reason or "").lower() for o in ours if o not in filled)
    # Every filled order reached the exchange exactly once, under our client ID.
    for order in filled:
        placed = fake.orders_with_client_id(order.client_order_id)
        assert len(placed) == 1 and placed[0]["status"] == "FILLED"
    assert len([o for o in fake.orders if o["status"] == "FILLED"]) == len(filled)
    # The exchange's fills are the stored fills (each once) and made the portfolio.
    venue_fills = loop.broker.venue.fills()
    stored = portfolio_repo.load_fills(ctx.store, "paper")
    assert sorted(f.fill_id for f in stored) == sorted(f.fill_id for f in venue_fills)
    assert {f.client_order_id for f in stored} == {o.client_order_id for o in filled}
    # The Dashboard says what is traded: venue, feed and last bar.
    set_context(ctx)
    try:
        at = AppTest.from_file(APP, default_timeout=90).run()
        assert not at.exception, [e.message for e in at.exception]
        text = "\n".join([m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption])
        assert "**Venue** binance (testnet)" in text
        assert "venue" in text and f"{loop.last_processed:%Y-%m-%d %H:%M}" in text
    finally:
        set_context(None)


def test_brokers_default_decides_where_the_loop_trades(tmp_path, sqlite_url, fake):
    """The same settings but ``brokers.default: paper``: the same bars, the orders stay in the simulator."""
    market = Market(fake, series(), WARMUP)
    ctx = Context.create(venue_settings(tmp_path, sqlite_url, fake, venue="paper"), clock=market.clock)
    toggle.set_enabled(ctx.store, True)
    loop = trading_loop(ctx)
    loop.tick()
    for step in [30, 60, 90]:
        market.minutes(step)
        loop.tick()
    assert ctx.store.get_setting("loop.paper.session")["venue"] == "paper"
    assert len(loop.manager.orders()) > 4
    assert fake.orders == []  # nothing was sent to the exchange
    assert type(loop.broker).__name__ == "PaperBroker"


def test_venue_test_connection(tmp_path, sqlite_url, fake):
    ctx = Context.create(venue_settings(tmp_path, sqlite_url, fake), clock=FixedClock(datetime(2024, 1, 2, tzinfo=UTC)))
    out = check_venue("binance", ctx=ctx)
    assert out["ok"] and out["endpoint"] == "testnet" and out["cash"] == 100_000.0 and out["currency"] == "USDT"
    bad = Context.create(load_settings(config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": sqlite_url},
                                       log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False}))
    out = check_venue("binance", ctx=bad)
    assert not out["ok"] and "missing brokers.binance.api_key" in out["error"] and "\n" not in out["error"]


def test_a_crash_after_sending_never_doubles_the_order_at_the_venue(tmp_path, sqlite_url, fake, monkeypatch):
    """The host dies after the venue took an order but before the bar's transaction committed; a restart reconciles, never resends."""
    market = Market(fake, series(), WARMUP)
    ctx = Context.create(venue_settings(tmp_path, sqlite_url, fake), clock=market.clock)
    toggle.set_enabled(ctx.store, True)
    loop = trading_loop(ctx)
    loop.tick()
    crashes = 0
    for _ in range(120):  # one bar per tick; crash on every bar that sent an order
        market.minutes(1)
        sent_before = len(fake.orders)
        real_flush = loop.recorder.flush

        def flush(fills, now, _real=real_flush, _before=sent_before):
            if len(fake.orders) > _before:
                raise RuntimeError("SIGKILL stand-in: the process dies before the bar is stored")
            return _real(fills, now)

        monkeypatch.setattr(loop.recorder, "flush", flush)
        try:
            loop.tick()
        except RuntimeError:
            crashes += 1
            loop = trading_loop(ctx)  # a new process: rebuilt from the store, reconciled with the venue
            loop.tick()
        assert_book_equals_venue(loop, fake)
    assert crashes >= 2
    ids = [o["clientOrderId"] for o in fake.orders]
    assert len(ids) == len(set(ids))  # no order doubled at the venue
    # None lost: every order the venue holds is in the store under our client ID, in the venue's final state.
    stored = {o.broker_order_id: o for o in order_repo.load_orders(ctx.store, "paper") if o.broker_order_id}
    assert set(stored) == {str(o["orderId"]) for o in fake.orders}
    for o in fake.orders:
        assert stored[str(o["orderId"])].status.value == o["status"].lower()
    assert ctx.store.audit_log(kind="reconcile_difference")  # the adopted orders and fills were recorded as differences


def test_settings_page_tests_the_venue_connection(tmp_path, sqlite_url, fake):
    ctx = Context.create(venue_settings(tmp_path, sqlite_url, fake), clock=FixedClock(datetime(2024, 1, 2, tzinfo=UTC)))
    set_context(ctx)
    try:
        at = AppTest.from_file(APP, default_timeout=90)
        at.switch_page("pages/settings.py").run()
        next(b for b in at.button if b.key == "venue_test_binance").click().run()
        assert not at.exception, [e.message for e in at.exception]
        assert any("binance-testnet (testnet): cash 100000 USDT" in s.value for s in at.success)
        next(b for b in at.button if b.key == "venue_test_alpaca").click().run()
        assert any("missing brokers.alpaca.api_key" in e.value for e in at.error)
    finally:
        set_context(None)


def test_three_lines_in_env_trade_btc_usdt_on_the_venue_with_the_default_strategy(tmp_path, sqlite_url):
    """The README's how-to: ``.env`` holds only the venue, the key and the secret (the base URL points the test at the fake)."""
    key, secret = SECRETS["binance"]
    bars = series(1_700)  # the default warm-up (1,250 bars) plus the 240 processed
    env = tmp_path / ".env"
    env.write_text(f"APP__BROKERS__DEFAULT=binance\nAPP__BROKERS__BINANCE__API_KEY={key}\nAPP__BROKERS__BINANCE__API_SECRET={secret}\n")
    with BinanceFake(api_key=key, api_secret=secret) as fake:
        fake.serve_klines(VENUE_SYMBOL, bars)
        settings = load_settings(config_file=None, env_file=str(env), store={"database_url": sqlite_url}, log={"dir": str(tmp_path / "logs")},
                                 scheduler={"embedded": False}, brokers={"binance": {"base_url": fake.url, "rate_limit_ms": 1}})
        assert (settings.trading.symbols, settings.trading.timeframe, settings.data.provider) == (["BTC/USDT"], "1m", "venue")
        warmup = settings.trading.warmup_bars
        market = Market(fake, bars, warmup)
        ctx = Context.create(settings, clock=market.clock)
        toggle.set_enabled(ctx.store, True)
        loop = trading_loop(ctx)
        loop.tick()
        session = ctx.store.get_setting("loop.paper.session")
        assert (session["strategy"], session["symbols"], session["venue"], session["feed"]) == ("ensemble", ["BTC/USDT"], "binance (testnet)", "venue")
        assert session["params"].get("model_id")  # trained on the warm-up bars at the session's start
        processed = 0
        for _ in range(8):
            market.minutes(30)
            processed += len(loop.tick().bars)
            assert_book_equals_venue(loop, fake)
    assert processed == 240
    assert fake.count("GET", "/api/v3/klines") >= 9 and fake.count("GET", "/api/v3/account") >= 9
    ours = {o.client_order_id: o for o in loop.manager.orders()}
    sent = [o for o in ours.values() if o.broker_order_id]
    # every order we sent is at the venue and nothing else is (matched by the venue's order ID: a protective stop's longer
    # client ID is sent as its stable hash, core.brokers._venue.venue_client_id)
    assert sent and {str(o["orderId"]) for o in fake.orders} == {o.broker_order_id for o in sent}
    # no protective stop was placed for a position an exit had already sold (the venue would refuse it: no balance left)
    rejected = [o for o in ours.values() if o.status.value == "rejected"]
    assert rejected == [], [(o.client_order_id, o.reason) for o in rejected]
    print(f"\nthree lines: bars processed {processed}, orders {len(ours)}, at the venue {len(fake.orders)}")
