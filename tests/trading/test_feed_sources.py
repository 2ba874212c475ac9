"""Feed providers outside the loop: the CLI/service connection test, yfinance offline, market hours, the data gate."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from core.clock import FixedClock
from core.data.providers import DataError
from core.domain import Order, OrderType, RiskAction, RiskDecision, Side
from core.portfolio import Portfolio
from core.store import Store
from core.trading.feeds import data_gate
from core.trading.feeds.live import LiveFeed, market_open
from core.trading.feeds.sources import YFinanceSource
from tests.fakes.binance_fake import BinanceFake

ROOT = Path(__file__).resolve().parents[2]


def _cli(tmp_path, *args, **env):
    base = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "APP__LOG__DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, env={**base, **env}, timeout=120)


def test_feed_test_cli_prints_the_newest_closed_bar_or_one_line_error(tmp_path):
    now_ms = int(time.time() // 60 * 60_000) + 30_000  # the real clock: the CLI runs on it
    with BinanceFake() as fake:
        fake.now_ms = now_ms
        start = now_ms - 30_000 - 10 * 60_000
        fake.serve_klines("BTCUSDT", [(100.0 + i, 102.0 + i, 99.0 + i, 101.0 + i, 5.0) for i in range(11)], start_ms=start)
        ok = _cli(tmp_path, "feed", "test", "--provider", "ccxt", "--symbol", "BTC/USDT", "--timeframe", "1m", "--json",
                  APP__DATA__BASE_URL=fake.url)
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    # bars 0..9 closed, bar 10 forming: the newest closed one is bar 9
    assert out["ok"] and out["bar"]["close"] == 110.0 and out["bar"]["ts"] == pd.Timestamp(start + 9 * 60_000, unit="ms", tz="UTC").isoformat()
    dead = _cli(tmp_path, "feed", "test", "--provider", "ccxt", "--symbol", "BTC/USDT", "--timeframe", "1m",
                APP__DATA__BASE_URL="http://127.0.0.1:9")
    assert dead.returncode == 1 and dead.stdout == ""
    assert dead.stderr.count("\n") == 1 and dead.stderr.startswith("error: binance: cannot read the exchange time: NetworkError")


def test_yfinance_offline_is_no_data_never_a_crash(tmp_path, sqlite_url):
    calls = []

    def download(*args, **kwargs):  # what yfinance.download returns offline: an empty frame
        calls.append(args)
        return pd.DataFrame()

    source = YFinanceSource(download)
    assert source.fetch("AAPL", "1d", pd.Timestamp("2024-01-02", tz="UTC")).empty
    clock = FixedClock(datetime(2024, 1, 3, 15, tzinfo=UTC))
    with pytest.raises(DataError, match="need 50 closed bars of history per symbol"):
        LiveFeed(Store(sqlite_url), source, ["AAPL"], "1d", 50, now=clock.now)
    assert calls


def test_market_hours_follow_the_exchange_calendars():
    assert market_open(None, pd.Timestamp("2024-01-06 03:00", tz="UTC"))  # crypto: Saturday night is open
    assert market_open("XNYS", pd.Timestamp("2024-01-03 15:00", tz="UTC"))  # Wednesday 10:00 New York
    assert not market_open("XNYS", pd.Timestamp("2024-01-03 22:00", tz="UTC"))  # after the close
    assert not market_open("XNYS", pd.Timestamp("2024-01-06 15:00", tz="UTC"))  # Saturday
    assert not market_open("XNYS", pd.Timestamp("2024-07-04 15:00", tz="UTC"))  # Independence Day
    assert market_open("XBOM", pd.Timestamp("2024-01-03 05:00", tz="UTC"))  # 10:30 in Mumbai
    assert not market_open("XBOM", pd.Timestamp("2024-01-26 05:00", tz="UTC"))  # Republic Day


def test_data_gate_blocks_new_risk_when_stale_and_every_order_when_closed():
    seen = []

    def inner(order, context=None):
        seen.append(order.client_order_id)
        return RiskDecision(RiskAction.APPROVE, order.quantity, "")

    pf = Portfolio(cash=10_000.0)
    pf.apply_fill(_fill("AAPL", Side.BUY, 10))
    halt = {"state": None}
    gate = data_gate(inner, lambda: halt["state"], pf)
    buy, sell = Order("b", "AAPL", Side.BUY, 1, OrderType.MARKET), Order("s", "AAPL", Side.SELL, 10, OrderType.MARKET)
    assert gate(buy).action == RiskAction.APPROVE
    halt["state"] = "stale data"
    assert gate(buy).action == RiskAction.VETO and "stale data" in gate(buy).reason
    assert gate(sell).action == RiskAction.APPROVE  # reducing is allowed on stale data
    assert gate(Order("x", "AAPL", Side.SELL, 11, OrderType.MARKET)).action == RiskAction.VETO  # flipping short is new risk
    halt["state"] = "market closed"
    assert gate(sell).action == RiskAction.VETO and "market closed" in gate(sell).reason
    assert seen == ["b", "s"]


def _fill(symbol, side, qty):
    from core.domain import Fill

    return Fill("f1", "c1", symbol, side, qty, 100.0, 0.0, datetime(2024, 1, 2, tzinfo=UTC))


def _moving(start, n=80):
    from datetime import timedelta

    from tests.fakes._bars import MovingBars

    return MovingBars(start, timedelta(minutes=1), [(100.0 + i, 101.0 + i, 99.5 + i, 100.5 + i, 1000.0 + i) for i in range(n)])


def _check_live_feed(store, source, symbol, clock, advance):
    feed = LiveFeed(store, source, [symbol], "1m", 50, now=clock.now)
    assert len(feed.frames[symbol]) == 60  # 60 closed bars; the 61st was forming
    assert feed.start == feed.frames[symbol].index[-1]
    advance(10)
    cursor = feed.advance()
    frame = feed.frames[symbol]
    assert len(frame) == 70 and cursor == frame.index[-1]
    assert list(frame["close"]) == [100.5 + i for i in range(70)]  # the closed values, never a forming snapshot
    assert store.load_bars(symbol, "1m", source.name).equals(frame)  # cached before release
    assert feed.advance() == cursor and feed.dropped["forming"] >= 2
    # a bar served again (Kite's "from" has whole seconds) is dropped as a duplicate, never stored or released twice
    assert len(feed.frames[symbol]) == 70 and len(store.load_bars(symbol, "1m", source.name)) == 70
    status = feed.status()
    assert status.market_open and not status.stale and status.bars_received == 70
    return feed


def test_alpaca_bars_feed_only_closed_bars_through_alpaca_py(sqlite_url):
    from datetime import timedelta

    from alpaca.data.historical import StockHistoricalDataClient

    from core.trading.feeds.sources import AlpacaSource
    from tests.fakes.alpaca_fake import T0, AlpacaFake

    with AlpacaFake() as fake:
        fake.serve_bars("AAPL", _moving(T0))
        fake.now = T0 + timedelta(minutes=60, seconds=20)
        clock = FixedClock(fake.now)

        def advance(minutes):
            fake.now += timedelta(minutes=minutes)
            clock.set(fake.now)

        source = AlpacaSource(StockHistoricalDataClient("pk-key", "pk-secret", url_override=fake.url))
        feed = _check_live_feed(Store(sqlite_url), source, "AAPL", clock, advance)
        clock.set(datetime(2024, 1, 6, 15, tzinfo=UTC))  # Saturday: market closed, so no stale-data alarm either
        assert not feed.status().market_open and not feed.status().stale


def test_kite_historical_feed_only_closed_bars_through_kiteconnect(sqlite_url):
    from datetime import timedelta

    from kiteconnect import KiteConnect

    from core.trading.feeds.sources import KiteSource
    from tests.fakes.kite_fake import T0, KiteFake

    with KiteFake() as fake:
        fake.serve_historical("INFY", _moving(T0))
        fake.now = T0 + timedelta(minutes=60, seconds=20)
        clock = FixedClock(pd.Timestamp(fake.now, tz="Asia/Kolkata").tz_convert("UTC").to_pydatetime())

        def advance(minutes):
            fake.now += timedelta(minutes=minutes)
            clock.set(clock.now() + timedelta(minutes=minutes))

        kite = KiteConnect(fake.api_key, access_token=fake.access_token, root=fake.url)
        feed = _check_live_feed(Store(sqlite_url), KiteSource(kite, clock.now), "NSE:INFY", clock, advance)
        assert feed.frames["NSE:INFY"].index[0] == pd.Timestamp("2024-01-02 03:45", tz="UTC")  # 09:15 IST
