"""Alpaca's minute bars pushed over its market-data WebSocket (alpaca-py ``StockDataStream``), for the live feed.

Alpaca pushes a minute bar (``"T": "b"``) once the minute has closed, so every pushed bar
is closed: the tape takes them as they come and is complete from the first bar of a
connection (each bar is Alpaca's whole minute, not the part of it we were connected for).
Late corrections (``updatedBars``) are not subscribed: a released bar is never changed.
Only ``1m`` bars stream. Alpaca sends nothing for a minute without trades, so a healthy
socket may stay quiet one bar interval beyond the timeout. alpaca-py dials a dropped
socket again by itself (its backoff starts at ``retry`` seconds); the stream's
``_start_ws`` and ``close`` are hooked to learn when a connection starts and ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd

from core.trading.feeds.stream import TapeStream, log


def _hooked(cls: type, stream: AlpacaBarStream) -> type:
    """Return ``cls`` (alpaca-py's ``StockDataStream``) reporting connections and closes to ``stream``."""

    async def _start_ws(self: Any) -> None:
        await cls._start_ws(self)
        stream._connected()  # connected and authenticated; the subscription goes out next

    async def close(self: Any) -> None:
        try:
            await cls.close(self)
        finally:
            stream._lost("socket closed")

    return type(f"Streamed{cls.__name__}", (cls,), {"_start_ws": _start_ws, "close": close})


class AlpacaBarStream(TapeStream):
    """Alpaca's stock minute bars over one WebSocket, in a background thread.

    ``make_stream(cls_hook)`` returns the data stream, built from ``cls_hook(StockDataStream)``;
    the other parameters are :class:`~core.trading.feeds.stream.TapeStream`'s.
    """

    quiet_steps = 1
    thread_name = "alpaca bar stream"

    def __init__(self, make_stream: Callable[[Callable[[type], type]], Any], now: Callable[[], datetime], timeout: float = 30.0,
                 retry: float = 5.0, keep: int = 1000) -> None:
        super().__init__(now, timeout, retry, keep)
        self._make = make_stream
        self._ds: Any = None

    def _run(self) -> None:
        try:
            self._ds = self._make(lambda cls: _hooked(cls, self))
            self._ds._reconnect_min_backoff = self.retry  # alpaca-py's own redial backoff (private: no parameter for it)
            self._ds._reconnect_max_backoff = max(self.retry, 30.0)
        except Exception as exc:
            self._ds = None
            self.error = f"{type(exc).__name__}: {exc}"
            return
        finally:
            self._ready.set()
        try:
            self._ds.run()  # until stop(); alpaca-py reconnects inside
        finally:
            with self._lock:
                self._up = False

    def _started(self) -> bool:
        return self._ds is not None

    def _subscribe(self, symbol: str, timeframe: str) -> None:
        try:
            self._ds.subscribe_bars(self._on_bar, symbol)
        except Exception as exc:  # the socket died while subscribing: the handler is registered, the next dial subscribes it
            log.warning("alpaca bar stream: subscribing %s failed: %s", symbol, exc)

    def _loop(self) -> asyncio.AbstractEventLoop | None:
        loop = getattr(self._ds, "_loop", None)
        return loop if loop is not None and loop.is_running() else None

    def _shutdown(self) -> None:
        if self._loop() is not None:
            try:
                self._ds.stop()
                self._drop_socket()  # alpaca-py looks at the stop request between reads (up to 5 s): end the read now
            except Exception as exc:  # the loop ended meanwhile
                log.debug("stopping the alpaca bar stream: %s", exc)

    def _drop_socket(self) -> None:
        loop = self._loop()
        if loop is not None:
            asyncio.run_coroutine_threadsafe(self._ds.close(), loop)

    async def _on_bar(self, bar: Any) -> None:
        t = int(pd.Timestamp(bar.timestamp).timestamp() * 1000)
        with self._lock:
            tape = self._tapes.get((bar.symbol, "1m"))
            if tape is None or not self._up:
                return
            tape.heard = pd.Timestamp(self.now())
            self._event_ms = max(self._event_ms or 0, t + tape.step)  # the minute is over at the exchange
            if tape.covered is None:
                tape.covered = t
            if tape.done is not None and t <= tape.done:
                return  # a repeat or an older bar: the first one stands
            tape.closed[t] = (float(bar.open), float(bar.high), float(bar.low), float(bar.close), float(bar.volume))
            tape.done = t
            self._trim(tape)
