"""The streaming feed on Alpaca (``data.provider: alpaca``, ``data.stream: true``): minute bars over alpaca-py's StockDataStream.

Real clients only: alpaca-py's ``StockDataStream`` dials the msgpack stream fake
(:mod:`tests.fakes.alpaca_ws`) and its ``StockHistoricalDataClient`` polls the REST fake;
both serve the same bars on the same clock (a Tuesday from the 09:30 New York open).
"""

from __future__ import annotations

import time
from datetime import timedelta

import pandas as pd
import pytest

from core.clock import FixedClock
from core.config import load_settings
from core.services import Context, trading_loop
from core.trading import toggle
from core.trading.feeds.streaming import StreamingSource, close_streams
from tests.fakes._bars import MovingBars
from tests.fakes.alpaca_fake import T0, AlpacaFake
from tests.fakes.alpaca_ws import AlpacaBarStreamFake

SYMBOL = "AAPL"
WARMUP = 60
STEP = timedelta(minutes=1)


def _series(n: int = 200) -> list[tuple[float, float, float, float, float]]:
    """Real prices moved to minute bars: the bundled MSFT daily bars, one per minute."""
    from core.data.providers import SampleProvider

    frame = SampleProvider("data/sample").bars("MSFT").iloc[:n]
    return [tuple(float(x) for x in row) for row in frame[["open", "high", "low", "close", "volume"]].itertuples(index=False)]


def _ts(i: int) -> pd.Timestamp:
    return pd.Timestamp(T0 + i * STEP)


def _wait(cond, what, limit=15.0):
    """Wait for ``cond()`` (an event on another thread); fail naming ``what`` if it never happens."""
    deadline = time.monotonic() + limit
    while not cond():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


@pytest.fixture
def market():
    with AlpacaFake() as rest, AlpacaBarStreamFake(rest) as ws:
        rest.serve_bars(SYMBOL, MovingBars(T0, STEP, _series()))
        rest.now = T0 + WARMUP * STEP + timedelta(seconds=20)
        yield rest, ws, FixedClock(rest.now)


def test_alpaca_bars_stream_to_the_loop_fall_back_to_polling_and_come_back(tmp_path, market):
    rest, ws, clock = market

    def minutes(n):
        rest.now += n * STEP
        clock.set(rest.now)
        ws.publish()

    settings = load_settings(
        env_file=str(tmp_path / "none.env"), store={"database_url": f"sqlite:///{tmp_path}/a.db"}, log={"dir": str(tmp_path / "logs")},
        scheduler={"embedded": False}, brokers={"alpaca": {"api_key": rest.api_key, "api_secret": rest.api_secret}},
        data={"provider": "alpaca", "base_url": rest.url, "stream": True, "stream_url": ws.url, "stream_timeout": 30, "stream_retry": 0.05},
        trading={"strategy": "sma_cross", "symbols": [SYMBOL], "timeframe": "1m", "warmup_bars": WARMUP, "commission": 0.0005},
    )
    ctx = Context.create(settings, clock=clock)
    toggle.set_enabled(ctx.store, True)
    loop = trading_loop(ctx)
    try:
        loop.tick()
        assert isinstance(loop.feed.source, StreamingSource) and loop.feed.source.calendar == "XNYS"
        stream = loop.feed.source.stream
        up = lambda: stream.healthy([(SYMBOL, "1m")])  # noqa: E731
        _wait(lambda: ws.subscribers() == 1, "alpaca-py connects, authenticates and subscribes")
        got = []
        for n, newest, expect_via in ((1, WARMUP, {"stream": 1}), (3, WARMUP + 3, {"stream": 4})):
            minutes(n)
            _wait(lambda newest=newest: stream.last_closed(SYMBOL, "1m") == _ts(newest), "the pushed bar is read")
            got.append(loop.tick().bars)
            assert loop.feed.status().via == expect_via and loop.feed.status().mode == "streaming"
        ws.drop()
        _wait(lambda: not up(), "the drop is noticed")
        minutes(2)
        got.append(loop.tick().bars)
        assert loop.feed.status().via == {"stream": 4, "rest": 2} and loop.feed.status().mode == "polling (socket down)"
        minutes(2)  # two more bars close while the socket is down
        ws.resume()
        _wait(lambda: ws.subscribers() == 1, "alpaca-py dials again")
        calls = rest.count("GET", "/v2/stocks/bars")
        minutes(2)
        _wait(up, "the first bar on the new socket is read")
        got.append(loop.tick().bars)
        assert rest.count("GET", "/v2/stocks/bars") - calls == 1  # the gap, back-filled once
        assert loop.feed.status().via == {"stream": 4 + 2, "rest": 2 + 2}
        minutes(2)
        _wait(lambda: stream.last_closed(SYMBOL, "1m") == _ts(WARMUP + 11), "the pushed bars are read")
        got.append(loop.tick().bars)
        assert rest.count("GET", "/v2/stocks/bars") - calls == 1
        assert loop.feed.status().via == {"stream": 4 + 2 + 2, "rest": 2 + 2}
        assert [len(t) for t in got] == [1, 3, 2, 2 + 2, 2]
        assert [pd.Timestamp(b) for t in got for b in t] == [_ts(i) for i in range(WARMUP, WARMUP + 12)]  # none skipped, none twice
        stored = ctx.store.load_bars(SYMBOL, "1m", "alpaca")
        truth = _series()
        assert stored.index.is_unique and len(stored) == WARMUP + 12
        assert stored.to_numpy().ravel().tolist() == pytest.approx([x for i in range(WARMUP + 12) for x in truth[i]], rel=1e-12)
        assert (stream.connects, stream.drops, ws.connections) == (2, 1, 2)
    finally:
        close_streams(ctx)
