"""The streaming ccxt feed (``data.stream``): Binance klines over the WebSocket, REST polling while the socket is down.

Real clients only: ccxt.pro's binance class dials the kline-stream fake
(:mod:`tests.fakes.binance_ws`, Binance's wire format) and ccxt's REST class polls the
REST fake; both serve the same series on the same clock, which the test moves (and the
loop's clock with it). After each move the stream fake pushes what a real stream would
have pushed meanwhile; the test waits until the feed's stream has read it (a bounded
wait for an event, never a timing assertion), then ticks.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

import pandas as pd
import pytest

from core.clock import FixedClock
from core.config import load_settings
from core.data.providers import DataError
from core.services import Context, trading_loop
from core.trading import toggle
from core.trading.feeds.streaming import StreamingSource, close_streams
from tests.fakes.binance_fake import T0, BinanceFake
from tests.fakes.binance_ws import BinanceKlineStream

SYMBOL = "BTC/USDT"
WARMUP = 60
MINUTE = 60_000
SOURCE = "ccxt-binance"


def _series(n: int = 400) -> list[tuple[float, float, float, float, float]]:
    """Real prices moved to minute bars: the bundled AAPL daily bars, one per minute."""
    from core.data.providers import SampleProvider

    frame = SampleProvider("data/sample").bars("AAPL").iloc[:n]
    return [tuple(float(x) for x in row) for row in frame[["open", "high", "low", "close", "volume"]].itertuples(index=False)]


def _ts(i: int) -> pd.Timestamp:
    """Return the open time of kline ``i`` of the series."""
    return pd.Timestamp(T0 + i * MINUTE, unit="ms", tz="UTC")


class Market:
    """The REST fake, the stream fake and the loops' clock, moved together."""

    def __init__(self, rest: BinanceFake, ws: BinanceKlineStream, closed_bars: int) -> None:
        self.rest, self.ws = rest, ws
        self.clock = FixedClock(datetime.fromtimestamp(T0 / 1000, tz=UTC))
        self.set(T0 + closed_bars * MINUTE + 20_000)  # ``closed_bars`` closed, the next one forming for 20 s

    def set(self, ms: int, start_next: bool = True) -> None:
        self.rest.now_ms = ms
        self.clock.set(datetime.fromtimestamp(ms / 1000, tz=UTC))
        self.ws.publish(start_next=start_next)

    def minutes(self, n: float) -> None:
        self.set(self.rest.now_ms + int(n * MINUTE))

    @property
    def closed(self) -> int:
        """Return the index of the newest closed kline at the clock."""
        return (self.rest.now_ms - T0) // MINUTE - 1


@pytest.fixture
def market():
    with BinanceFake() as rest, BinanceKlineStream(rest) as ws:
        rest.serve_klines("BTCUSDT", _series())
        yield Market(rest, ws, WARMUP)


def _ctx(tmp_path, name, market, stream=True):
    settings = load_settings(
        env_file=str(tmp_path / "none.env"), store={"database_url": f"sqlite:///{tmp_path}/{name}.db"},
        log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False},
        data={"provider": "ccxt", "ccxt_exchange": "binance", "base_url": market.rest.url, "stale_after_bars": 3, "stream": stream,
              "stream_url": market.ws.url, "stream_timeout": 30, "stream_retry": 0.05},
        trading={"strategy": "sma_cross", "symbols": [SYMBOL], "timeframe": "1m", "warmup_bars": WARMUP, "commission": 0.0005},
    )
    ctx = Context.create(settings, clock=market.clock)
    toggle.set_enabled(ctx.store, True)
    return ctx


@pytest.fixture
def contexts(tmp_path):
    made = []

    def make(name, market, stream=True):
        ctx = _ctx(tmp_path, name, market, stream)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        close_streams(ctx)


def _loop(ctx, seen):
    """Return the context's loop with its strategy recording every bar it is shown (symbol, ts, OHLCV)."""
    loop = trading_loop(ctx)
    build = loop.ports.build_strategy

    def recording(name, params):
        strategy = build(name, params)
        inner = strategy.on_bar

        def on_bar(sctx):
            for sym in sctx.symbols:
                h = sctx.history(sym)
                seen.append((sym, pd.Timestamp(h.timestamps(1)[-1]), h.open[-1], h.high[-1], h.low[-1], h.close[-1], h.volume[-1]))
            inner(sctx)

        strategy.on_bar = on_bar
        return strategy

    loop.ports = dataclasses.replace(loop.ports, build_strategy=recording)
    return loop


def _flat(rows):
    """Return the OHLCV values of recorded bars, in one flat list."""
    return [float(x) for r in rows for x in r[2:]]


def _flat_truth(indices):
    truth = _series()
    return [x for i in indices for x in truth[i]]


def _wait(cond, what, limit=15.0):
    """Wait for ``cond()`` (an event on another thread); fail naming ``what`` if it never happens."""
    deadline = time.monotonic() + limit
    while not cond():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def _caught_up(loop, market):
    """Wait until the loop's stream holds the newest closed kline at the clock."""
    stream = loop.feed.source.stream
    _wait(lambda: stream.last_closed(SYMBOL, "1m") == _ts(market.closed), f"the stream reads kline {market.closed}")


def _connected(loop):
    stream = loop.feed.source.stream
    _wait(lambda: stream.healthy([(SYMBOL, "1m")]), "the socket is up and subscribed")


def test_streamed_bars_reach_the_strategy_in_order_once_and_equal_the_polled_ones(tmp_path, market, contexts):
    seen_stream, seen_poll = [], []
    streamed = _loop(contexts("s", market), seen_stream)
    polled = _loop(contexts("p", market, stream=False), seen_poll)
    streamed.tick(), polled.tick()
    assert isinstance(streamed.feed.source, StreamingSource) and not isinstance(polled.feed.source, StreamingSource)
    _connected(streamed)
    klines_before = market.rest.count("GET", "/api/v3/klines")
    ticks_s, ticks_p = [], []
    for step in [1, 1, 2.5, 7, 1, 30, 0.2, 60, 90, 45]:  # several bars a tick, none, a forming one
        market.minutes(step)
        _caught_up(streamed, market)
        ticks_s.append(streamed.tick().bars)
        ticks_p.append(polled.tick().bars)
    assert ticks_s == ticks_p
    released = [pd.Timestamp(b) for tick in ticks_s for b in tick]
    # In order, once, every closed kline after the warm-up up to the clock.
    assert released == [_ts(i) for i in range(WARMUP, market.closed + 1)]
    assert seen_stream == seen_poll
    post = [row for row in seen_stream if row[1] > _ts(WARMUP - 1)]
    assert [r[1] for r in post] == released
    assert _flat(post) == pytest.approx(_flat_truth(range(WARMUP, market.closed + 1)), rel=1e-12, abs=5e-9)  # the wire carries 8 decimals
    # Every bar after the warm-up came over the socket: REST was asked for no kline while it was up.
    assert streamed.feed.status().via == {"stream": len(released)} and streamed.feed.status().mode == "streaming"
    assert polled.feed.status().via == {"rest": len(released)}
    polled_calls = len(ticks_p)  # the polling loop asked REST once per tick
    assert market.rest.count("GET", "/api/v3/klines") - klines_before == polled_calls
    a, b = streamed.ctx.store.load_bars(SYMBOL, "1m", SOURCE), polled.ctx.store.load_bars(SYMBOL, "1m", SOURCE)
    pd.testing.assert_frame_equal(a, b)
    assert [(o.client_order_id, o.quantity) for o in streamed.manager.orders()] == [(o.client_order_id, o.quantity)
                                                                                     for o in polled.manager.orders()]
    assert len(streamed.manager.orders()) > 2


def test_a_dropped_socket_falls_back_to_polling_backfills_the_gap_once_and_reconnects(tmp_path, market, contexts):
    seen = []
    loop = _loop(contexts("d", market), seen)
    loop.tick()
    _connected(loop)
    stream = loop.feed.source.stream
    market.minutes(5)
    _caught_up(loop, market)
    got = [loop.tick().bars]
    assert loop.feed.status().via == {"stream": 5}
    # The socket drops and the stream fake refuses new connections.
    market.ws.drop()
    _wait(lambda: not stream.healthy([(SYMBOL, "1m")]), "the drop is noticed")
    market.minutes(3)
    got.append(loop.tick().bars)
    status = loop.feed.status()
    assert status.via == {"stream": 5, "rest": 3} and status.mode == "polling (socket down)"
    market.minutes(2)  # no tick: two more bars close while the socket is down
    market.ws.resume()
    _connected(loop)
    reconnected_at = market.closed  # the tape starts at the kline forming now: kline reconnected_at + 1
    klines_before = market.rest.count("GET", "/api/v3/klines")
    market.minutes(4)
    _caught_up(loop, market)
    got.append(loop.tick().bars)
    assert market.rest.count("GET", "/api/v3/klines") - klines_before == 1  # the gap, back-filled once
    assert loop.feed.status().via == {"stream": 5 + 4, "rest": 3 + 2}
    assert stream.last_closed(SYMBOL, "1m") == _ts(reconnected_at + 4)
    market.minutes(3)
    _caught_up(loop, market)
    got.append(loop.tick().bars)
    assert market.rest.count("GET", "/api/v3/klines") - klines_before == 1  # streaming again: no more REST klines
    assert loop.feed.status().via == {"stream": 5 + 4 + 3, "rest": 3 + 2} and loop.feed.status().mode == "streaming"
    released = [pd.Timestamp(b) for tick in got for b in tick]
    assert [len(t) for t in got] == [5, 3, 2 + 4, 3]
    assert released == [_ts(i) for i in range(WARMUP, WARMUP + 17)]  # nothing skipped, nothing twice
    post = [row for row in seen if row[1] > _ts(WARMUP - 1)]
    assert _flat(post) == pytest.approx(_flat_truth(range(WARMUP, WARMUP + 17)), rel=1e-12, abs=5e-9)  # the wire carries 8 decimals
    assert (stream.connects, stream.drops, market.ws.connections) == (2, 1, 2)
    stored = loop.ctx.store.load_bars(SYMBOL, "1m", SOURCE)
    assert stored.index.is_unique and len(stored) == WARMUP + 17


def test_a_silent_socket_counts_as_dropped_polls_and_is_dialled_again(tmp_path, market, contexts):
    loop = _loop(contexts("q", market), [])
    loop.tick()
    _connected(loop)
    stream = loop.feed.source.stream
    market.ws.silence()
    market.minutes(2)  # two minutes without a message: past data.stream_timeout (30 s)
    got = [loop.tick().bars]
    assert loop.feed.status().via == {"rest": 2} and loop.feed.status().mode == "polling (socket silent)"
    market.ws.silence(False)
    _wait(lambda: market.ws.connections == 2 and market.ws.subscribers() == 1, "the silent socket is closed and dialled again")
    market.ws.publish()  # the current kline, in case the new socket subscribed while the fake was still silent
    _connected(loop)
    market.minutes(3)
    _caught_up(loop, market)
    got.append(loop.tick().bars)
    assert loop.feed.status().via == {"rest": 2, "stream": 3}
    assert [pd.Timestamp(b) for tick in got for b in tick] == [_ts(i) for i in range(WARMUP, WARMUP + 5)]
    assert stream.drops == 1 and market.ws.connections == 2


def test_a_forming_kline_is_never_delivered_and_a_flagged_close_is_at_once(tmp_path, market, contexts):
    seen = []
    loop = _loop(contexts("f", market), seen)
    loop.tick()
    _connected(loop)
    source, stream = loop.feed.source, loop.feed.source.stream
    forming = WARMUP  # kline WARMUP is forming (20 s in)
    for ms in (10_000, 15_000, 9_000):  # updates of the forming kline (x: false), the clock still inside it
        market.set(market.rest.now_ms + ms)
        _wait(lambda: market.ws.sent and source.stream.exchange_time() == pd.Timestamp(market.rest.now_ms, unit="ms", tz="UTC"),
              "the update is read")
        assert loop.tick().bars == []
        assert source.fetch(SYMBOL, "1m", _ts(forming)).empty  # the stream itself holds nothing: the kline is not closed
    assert all(not m["k"]["x"] for m in market.ws.sent if m["k"]["t"] == T0 + forming * MINUTE)
    # The clock reaches the kline's close: Binance sends its final update (x: true) before the next kline starts.
    market.set(T0 + (forming + 1) * MINUTE, start_next=False)
    final = market.ws.sent[-1]["k"]
    assert final["x"] and final["t"] == T0 + forming * MINUTE and all(m["k"]["t"] <= final["t"] for m in market.ws.sent)
    _wait(lambda: stream.last_closed(SYMBOL, "1m") == _ts(forming), "the flagged kline is taken")
    assert [pd.Timestamp(b) for b in loop.tick().bars] == [_ts(forming)]
    # The strategy saw the kline's final values, never a forming snapshot (open = high = low = close).
    assert seen[-1][1] == _ts(forming) and _flat(seen[-1:]) == pytest.approx(_flat_truth([forming]), rel=1e-12, abs=5e-9)  # the wire carries 8 decimals
    assert loop.feed.status().via == {"stream": 1} and loop.feed.dropped["forming"] == 0


def test_stream_setting_on_a_provider_without_a_socket_says_how_to_fix(tmp_path, market):
    settings = load_settings(env_file=str(tmp_path / "none.env"), store={"database_url": f"sqlite:///{tmp_path}/y.db"},
                             log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False},
                             data={"provider": "yfinance", "stream": True}, trading={"symbols": ["AAPL"], "timeframe": "1d"})
    ctx = Context.create(settings, clock=market.clock)
    from core.trading.feeds.live import build_live_feed

    with pytest.raises(DataError, match="set data.stream to false"):
        build_live_feed(ctx, {"symbols": ["AAPL"], "timeframe": "1d", "warmup_bars": 5}, "default", "yfinance")


def test_the_job_host_shutdown_closes_the_socket_and_a_later_tick_opens_it_again(tmp_path, market, contexts):
    from jobs.host import SchedulerHost

    ctx = contexts("h", market)
    loop = _loop(ctx, [])
    loop.tick()
    _connected(loop)
    stream = loop.feed.source.stream
    assert market.ws.subscribers() == 1
    SchedulerHost(ctx, tick_seconds=3600).shutdown(wait=True)
    assert not stream._thread.is_alive()  # close() joined the stream's thread
    _wait(lambda: market.ws.subscribers() == 0, "the fake sees the socket closed")
    assert "kline_streams" not in ctx.extras
    # The next tick opens it again (a loop that outlives the host, e.g. in a notebook).
    market.minutes(2)
    assert len(loop.tick().bars) == 2  # polled while the socket dials
    _connected(loop)
    market.minutes(1)
    _caught_up(loop, market)
    assert len(loop.tick().bars) == 1
    assert loop.feed.status().via == {"rest": 2, "stream": 1} and market.ws.connections == 2
    stream.close()
