"""The streaming bar source: klines pushed over the WebSocket, REST polling while the socket is down.

:class:`StreamingSource` answers the live feed's ``fetch(symbol, timeframe, since)`` like
the polling sources do, so the feed's one path (drop what is forming, drop duplicates and
late bars, validate, write the bar cache, release) handles streamed and polled bars alike
and the loop sees the same bars either way. Per call it

- answers from the stream's tape when the socket is up, heard from within
  ``data.stream_timeout`` and complete from ``since`` on;
- back-fills from REST when the tape starts later than ``since`` (the socket came back
  after a gap): one REST call for the bars before the tape's start, then the tape;
- polls REST (``fetch_ohlcv`` since the last cached bar) while the socket is down or
  silent; a silent socket is closed, and the stream dials again every ``data.stream_retry`` s.

Each returned row says how it came (a ``via`` column: ``stream`` or ``rest``); the feed
counts the bars it cached per path. One stream per exchange, timeframe and URL is shared
by every feed of a context (``ctx.extras``), so rebuilding the loop keeps the socket.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.data.providers import TIMEFRAMES, DataError
from core.trading.feeds.sources import COLUMNS, CcxtSource, rehost
from core.trading.feeds.stream import KlineStream

EXTRAS_KEY = "kline_streams"


class StreamingSource:
    """Closed bars from ``stream`` where it has them, from ``rest`` (a :class:`CcxtSource`) where it does not."""

    calendar = None

    def __init__(self, rest: CcxtSource, stream: KlineStream) -> None:
        self.rest = rest
        self.stream = stream
        self.name = rest.name  # the same bar-cache key as polling: switching between them keeps the history
        self.mode = "polling (socket not yet asked)"
        self._keys: list[tuple[str, str]] = []

    def server_time(self) -> pd.Timestamp | None:
        """Return the exchange's clock: from the stream's event times while it is healthy, else from REST."""
        if self._keys and self.stream.healthy(self._keys):
            theirs = self.stream.exchange_time()
            if theirs is not None:
                return theirs
        return self.rest.server_time()

    def fetch(self, symbol: str, timeframe: str, since: pd.Timestamp) -> pd.DataFrame:
        """Return the closed bars opened at or after ``since`` (the newest may still be forming when they come from REST)."""
        if (symbol, timeframe) not in self._keys:
            self._keys.append((symbol, timeframe))
        self.stream.watch(symbol, timeframe)
        since_ms = int(since.timestamp() * 1000)
        step_ms = int(pd.Timedelta(TIMEFRAMES[timeframe]).total_seconds() * 1000)
        got = self.stream.read(symbol, timeframe, since_ms)
        if isinstance(got, str):
            self.mode = f"polling ({got})"
            return _via(self.rest.fetch(symbol, timeframe, since), "rest")
        rows, covered = got
        self.mode = "streaming"
        streamed = _via(_frame(rows), "stream")
        if covered - since_ms < step_ms:
            return streamed  # the tape is complete from ``since``
        # The socket came back after a gap: the bars before the tape's start come from REST, once.
        polled = self.rest.fetch(symbol, timeframe, since)
        gap = polled[polled["ts"] < pd.Timestamp(covered, unit="ms", tz="UTC")]
        if gap.empty or int(gap["ts"].iloc[-1].timestamp() * 1000) + step_ms < covered:
            return _via(gap, "rest")  # REST has not reached the tape yet: the tape waits (a later bar first would make these late)
        return pd.concat([_via(gap, "rest"), streamed], ignore_index=True)


def _frame(rows: list[tuple[int, tuple[float, ...]]]) -> pd.DataFrame:
    frame = pd.DataFrame([(t, *values) for t, values in rows], columns=COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="ms", utc=True)
    return frame


def _via(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    frame = frame.copy()
    frame["via"] = path
    return frame


def _rehost_ws(exchange: Any, origin: str) -> None:
    """Point every WebSocket URL of a ccxt.pro exchange at ``origin``, keeping each URL's path (``/ws``)."""
    from urllib.parse import urlparse

    def moved(value: Any) -> Any:
        if isinstance(value, str):
            return origin.rstrip("/") + urlparse(value).path
        return {k: moved(v) for k, v in value.items()} if isinstance(value, dict) else value

    exchange.urls["api"]["ws"] = moved(exchange.urls["api"]["ws"])


def stream_source(ctx: Any, rest: Any, exchange_id: str, sandbox: bool, rest_url: str | None) -> StreamingSource:
    """Return a streaming source over ``rest`` for ccxt.pro ``exchange_id``, sharing the context's stream.

    ``rest_url`` is where the exchange's REST API is (markets load from it); ``data.stream_url``
    moves the WebSocket (a proxy, a local server).
    """
    import ccxt.pro

    if not isinstance(rest, CcxtSource):
        raise DataError("data.stream works with the ccxt provider (or venue with brokers.default binance); "
                        "set data.stream to false for this provider")
    cls = getattr(ccxt.pro, exchange_id, None)
    if cls is None or not cls().has.get("watchOHLCV"):
        raise DataError(f"ccxt.pro has no watch_ohlcv for '{exchange_id}'; set data.stream to false (REST polling) "
                        "or pick an exchange with a kline stream, e.g. binance")
    s = ctx.settings.data
    key = (exchange_id, sandbox, rest_url, s.stream_url)
    streams = ctx.extras.setdefault(EXTRAS_KEY, {})
    stream = streams.get(key)
    if stream is None:
        def make(hook: Any) -> Any:
            exchange = hook(cls)({"enableRateLimit": True, "timeout": 10_000,
                                  "options": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                                              "fetchMargins": False, "adjustForTimeDifference": False}})
            if sandbox:
                exchange.set_sandbox_mode(True)
            if rest_url:
                rehost(exchange, rest_url)
            if s.stream_url:
                _rehost_ws(exchange, s.stream_url)
            return exchange

        stream = streams[key] = KlineStream(make, ctx.clock.now, timeout=s.stream_timeout, retry=s.stream_retry)
    return StreamingSource(rest, stream)


def close_streams(ctx: Any) -> None:
    """Close the context's kline streams (the job host's shutdown, a test's teardown)."""
    for stream in ctx.extras.pop(EXTRAS_KEY, {}).values():
        stream.close()
