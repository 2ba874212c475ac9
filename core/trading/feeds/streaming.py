"""The streaming bar source: bars pushed over the WebSocket, REST polling while the socket is down.

Two streams: ccxt.pro klines (:class:`~core.trading.feeds.stream.KlineStream`, Binance first)
and Alpaca's minute bars (:class:`~core.trading.feeds.alpaca_stream.AlpacaBarStream`).

:class:`StreamingSource` answers the live feed's ``fetch(symbol, timeframe, since)`` like
the polling sources do, so the feed's one path (drop what is forming, drop duplicates and
late bars, validate, write the bar cache, release) handles streamed and polled bars alike
and the loop sees the same bars either way. Per call it

- answers from the stream's tape when the socket is up, heard from within
  ``data.stream_timeout`` and complete from ``since`` on;
- back-fills from REST when the tape starts later than ``since`` (the socket came back
  after a gap): one REST call for the bars before the tape's start, then the tape;
- polls REST (since the last cached bar) while the socket is down or
  silent; a silent socket is closed, and the stream dials again every ``data.stream_retry`` s.

Each returned row says how it came (a ``via`` column: ``stream`` or ``rest``); the feed
counts the bars it cached per path. One stream per exchange and URL is shared
by every feed of a context (``ctx.extras``), so rebuilding the loop keeps the socket.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.data.providers import TIMEFRAMES, DataError
from core.trading.feeds.alpaca_stream import AlpacaBarStream
from core.trading.feeds.sources import COLUMNS, AlpacaSource, CcxtSource, rehost
from core.trading.feeds.stream import KlineStream, TapeStream

EXTRAS_KEY = "kline_streams"


class StreamingSource:
    """Closed bars from ``stream`` where it has them, from ``rest`` (the provider's polling source) where it does not."""

    def __init__(self, rest: Any, stream: TapeStream) -> None:
        self.rest = rest
        self.stream = stream
        self.calendar = rest.calendar
        self.name = rest.name  # the same bar-cache key as polling: switching between them keeps the history
        self.mode = "polling (socket not yet asked)"
        self._keys: list[tuple[str, str]] = []

    def server_time(self) -> pd.Timestamp | None:
        """Return the exchange's clock: from the stream's event times while it is healthy, else from REST (None: it has none)."""
        if self._keys and self.stream.healthy(self._keys):
            theirs = self.stream.exchange_time()
            if theirs is not None:
                return theirs
        rest_time = getattr(self.rest, "server_time", None)
        return rest_time() if rest_time is not None else None

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
        start = pd.Timestamp(covered, unit="ms", tz="UTC")
        gap = polled[polled["ts"] < start]
        reached = (polled["ts"] >= start).any() or (not gap.empty and int(gap["ts"].iloc[-1].timestamp() * 1000) + step_ms >= covered)
        if not reached:
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


def stream_source(ctx: Any, provider: str, rest: Any, timeframe: str) -> StreamingSource:
    """Return a streaming source over ``rest`` (the provider's polling source), sharing the context's stream.

    ``ccxt`` (and ``venue`` on Binance) streams ccxt.pro klines; ``alpaca`` (and ``venue`` on Alpaca)
    streams Alpaca's minute bars. ``data.stream_url`` moves the WebSocket (a proxy, a local server).
    """
    if isinstance(rest, CcxtSource):
        stream: TapeStream = _ccxt_stream(ctx, provider, rest)
    elif isinstance(rest, AlpacaSource):
        if timeframe != "1m":
            raise DataError(f"Alpaca streams 1-minute bars only, the session trades {timeframe}; set data.stream to false (REST polling)")
        stream = _alpaca_stream(ctx)
    else:
        raise DataError(f"data.stream works with the ccxt and alpaca providers (or venue on Binance or Alpaca), not {provider}; "
                        "set data.stream to false for this provider")
    return StreamingSource(rest, stream)


def _shared(ctx: Any, key: tuple[Any, ...], make: Any) -> Any:
    streams = ctx.extras.setdefault(EXTRAS_KEY, {})
    if key not in streams:
        streams[key] = make()
    return streams[key]


def _ccxt_stream(ctx: Any, provider: str, rest: CcxtSource) -> KlineStream:
    import ccxt.pro

    s = ctx.settings
    exchange_id = rest.exchange.id
    cls = getattr(ccxt.pro, exchange_id, None)
    if cls is None or not cls().has.get("watchOHLCV"):
        raise DataError(f"ccxt.pro has no watch_ohlcv for '{exchange_id}'; set data.stream to false (REST polling) "
                        "or pick an exchange with a kline stream, e.g. binance")
    via_venue = provider == "venue"
    sandbox = bool(via_venue and s.brokers.binance.testnet and not s.brokers.binance.base_url)
    rest_url = s.brokers.binance.base_url if via_venue else s.data.base_url

    def make(hook: Any) -> Any:
        exchange = hook(cls)({"enableRateLimit": True, "timeout": 10_000,
                              "options": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                                          "fetchMargins": False, "adjustForTimeDifference": False}})
        if sandbox:
            exchange.set_sandbox_mode(True)
        if rest_url:
            rehost(exchange, rest_url)
        if s.data.stream_url:
            _rehost_ws(exchange, s.data.stream_url)
        return exchange

    key = ("ccxt", exchange_id, sandbox, rest_url, s.data.stream_url)
    return _shared(ctx, key, lambda: KlineStream(make, ctx.clock.now, timeout=s.data.stream_timeout, retry=s.data.stream_retry))


def _alpaca_stream(ctx: Any) -> AlpacaBarStream:
    from alpaca.data.live import StockDataStream

    s = ctx.settings
    cfg = s.brokers.alpaca
    key_id = cfg.api_key.get_secret_value() if cfg.api_key is not None else ""
    secret = cfg.api_secret.get_secret_value() if cfg.api_secret is not None else ""
    # The IEX feed (every plan has it); a stream_url keeps Alpaca's path, /v2/iex.
    endpoint = s.data.stream_url.rstrip("/") + "/v2/iex" if s.data.stream_url else None

    def make(hook: Any) -> Any:
        return hook(StockDataStream)(key_id, secret, url_override=endpoint)

    key = ("alpaca", endpoint, key_id)
    return _shared(ctx, key, lambda: AlpacaBarStream(make, ctx.clock.now, timeout=s.data.stream_timeout, retry=s.data.stream_retry))


def close_streams(ctx: Any) -> None:
    """Close the context's kline streams (the job host's shutdown, a test's teardown)."""
    for stream in ctx.extras.pop(EXTRAS_KEY, {}).values():
        stream.close()
