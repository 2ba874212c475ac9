"""Closed bars pushed over a WebSocket, for the live feed: the shared tape logic and the ccxt.pro kline stream.

:class:`TapeStream` is what every pushed source shares: per (symbol, timeframe) a *tape*
of the bars that closed while the socket was up, read from the loop's thread
(:meth:`TapeStream.read`), the socket's health (up, heard from within the timeout) and the
background thread's lifecycle. A :class:`KlineStream` runs one asyncio loop in a background thread with one ccxt.pro
exchange: a task per (symbol, timeframe) calls ``watch_ohlcv`` over and over, so the
socket stays subscribed and a dropped one is dialled again every ``retry`` seconds.
Each (symbol, timeframe) keeps a *tape* of the klines that closed while the socket
was up; the bar still forming is never on it. A kline is closed when

- the exchange says so: Binance flags the last update of a kline with ``"x": true``.
  ccxt parses a kline into ``[t, o, h, l, c, v]`` and drops that flag, so the exchange
  class is subclassed to read it from the raw message (``handle_ohlcv``); or
- a later kline has started (any exchange).

The tape is complete from ``covered`` on: the first kline of a connection (Binance
pushes whole-kline snapshots, so its final values are right) or, for an exchange
whose first kline may be partial, the one after it. A (re)connection clears ccxt's
kline cache and the tape, so a kline forming when the socket dropped is never closed
with values from before the gap. :class:`core.trading.feeds.streaming.StreamingSource`
reads the tapes and fills what they lack from REST.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from core.data.providers import TIMEFRAMES, DataError

log = logging.getLogger("core.trading.stream")


@dataclass
class _Tape:
    """The closed klines of one (symbol, timeframe) seen on the current connection."""

    step: int  # ms
    closed: OrderedDict[int, tuple[float, ...]] = field(default_factory=OrderedDict)
    done: int | None = None  # open time (ms) of the newest kline taken off the cache as closed
    covered: int | None = None  # closed klines from this open time on are all on the tape
    heard: pd.Timestamp | None = None  # when the last message for it arrived (the injected clock)
    final_upto: int = -1  # the newest kline the exchange itself flagged closed
    snapshot: bool = False  # the exchange pushes whole-kline snapshots (Binance ``k`` messages)

    def reset(self) -> None:
        self.closed.clear()
        self.done = self.covered = self.heard = None
        self.final_upto = -1


class TapeStream:
    """Bars pushed over a WebSocket, read from the loop's thread; subclasses run the client in a background thread.

    Parameters
    ----------
    now
        The clock that dates each message (silence is measured on it).
    timeout
        Seconds of that clock without a message before the socket counts as dropped (plus
        ``quiet_steps`` bar intervals for a stream that pushes only closed bars).
    retry
        Seconds between two attempts to dial a dropped socket again.
    keep
        Closed bars kept per tape (older ones are in the bar cache by then).
    """

    quiet_steps = 0
    thread_name = "bar-stream"

    def __init__(self, now: Callable[[], datetime], timeout: float = 30.0, retry: float = 5.0, keep: int = 1000) -> None:
        self.now = now
        self.timeout = pd.Timedelta(seconds=timeout)
        self.retry = retry
        self.keep = keep
        self._lock = threading.RLock()
        self._tapes: dict[tuple[str, str], _Tape] = {}
        self._up = False
        self._event_ms: int | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._kicked = False
        self._closing = False
        self.connects = 0  # connections made (the first one included)
        self.drops = 0  # connections lost (dropped, refused, kicked for silence)
        self.error: str | None = None

    # -- the caller's side (the loop's thread) -------------------------------------------
    def watch(self, symbol: str, timeframe: str) -> None:
        """Subscribe to ``symbol``'s ``timeframe`` bars (idempotent; starts the thread on first use, again after :meth:`close`)."""
        key = (symbol, timeframe)
        with self._lock:
            new = key not in self._tapes
            if new:
                self._tapes[key] = _Tape(step=int(pd.Timedelta(TIMEFRAMES[timeframe]).total_seconds() * 1000))
            start = self._thread is None or not self._thread.is_alive()
            if start:
                self._ready.clear()
                self.error, self._closing = None, False
                self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
                self._thread.start()
        if not (new or start):
            return
        if not self._ready.wait(10) or not self._started():
            raise DataError(f"the {self.thread_name} did not start: {self.error or 'no event loop'}")
        for k in list(self._tapes) if start else [key]:
            self._subscribe(*k)

    def read(self, symbol: str, timeframe: str, since_ms: int) -> tuple[list[tuple[int, tuple[float, ...]]], int] | str:
        """Return the closed bars opened at or after ``since_ms`` (oldest first) and where the tape is complete from.

        Returns why the stream cannot answer instead (``"socket down"``, ``"socket silent"``,
        ``"connecting"``): the caller polls REST then. Touches only bars newer than ``since_ms``.
        """
        now = pd.Timestamp(self.now())
        with self._lock:
            tape = self._tapes.get((symbol, timeframe))
            if tape is None or not self._up:
                return "socket down"
            if tape.covered is None or tape.heard is None:
                return "connecting"
            if now - tape.heard > self._limit(tape):
                self._kick()
                return "socket silent"
            rows = []
            for t in reversed(tape.closed):
                if t < since_ms:
                    break
                rows.append((t, tape.closed[t]))
            return rows[::-1], tape.covered

    def exchange_time(self) -> pd.Timestamp | None:
        """Return the exchange's clock as the stream shows it (the newest event time; None before any)."""
        with self._lock:
            return None if self._event_ms is None else pd.Timestamp(self._event_ms, unit="ms", tz="UTC")

    def healthy(self, keys: list[tuple[str, str]]) -> bool:
        """Return True when the socket is up and every one of ``keys`` is covered and heard within the timeout."""
        now = pd.Timestamp(self.now())
        with self._lock:
            tapes = [self._tapes.get(k) for k in keys]
            return self._up and all(t is not None and t.covered is not None and t.heard is not None and now - t.heard <= self._limit(t)
                                    for t in tapes)

    def last_closed(self, symbol: str, timeframe: str) -> pd.Timestamp | None:
        """Return the open time of the newest closed bar on the tape (None when it is empty)."""
        with self._lock:
            tape = self._tapes.get((symbol, timeframe))
            if tape is None or not tape.closed:
                return None
            return pd.Timestamp(next(reversed(tape.closed)), unit="ms", tz="UTC")

    def close(self) -> None:
        """Close the socket and stop the thread."""
        self._closing = True
        self._shutdown()
        if self._thread is not None:
            self._thread.join(10)

    # -- to implement (the stream's thread) ------------------------------------------------
    def _run(self) -> None:
        """Run the client until :meth:`_shutdown`; set ``self._ready`` once :meth:`_subscribe` may be called."""
        raise NotImplementedError

    def _started(self) -> bool:
        return True

    def _subscribe(self, symbol: str, timeframe: str) -> None:
        raise NotImplementedError

    def _shutdown(self) -> None:
        raise NotImplementedError

    def _drop_socket(self) -> None:
        """Close the socket from outside (the client then dials again)."""
        raise NotImplementedError

    # -- shared plumbing ---------------------------------------------------------------------
    def _limit(self, tape: _Tape) -> pd.Timedelta:
        return self.timeout + pd.Timedelta(milliseconds=tape.step * self.quiet_steps)

    def _connected(self) -> None:
        """A connection is up: what the old one left on the tapes is not continuous with it."""
        with self._lock:
            for tape in self._tapes.values():
                tape.reset()
            self._up, self._kicked, self.error = True, False, None
            self.connects += 1

    def _lost(self, why: str) -> None:
        with self._lock:
            if self._up and not self._closing:
                self.drops += 1
                log.warning("%s lost: %s; polling REST until it is back", self.thread_name, why)
            self._up = False
            self.error = why

    def _kick(self) -> None:
        """Drop a silent socket (the next dial starts a fresh, complete tape)."""
        self._lost("socket silent")
        if not self._kicked:
            self._kicked = True
            self._drop_socket()

    def _trim(self, tape: _Tape) -> None:
        while len(tape.closed) > self.keep:
            tape.closed.popitem(last=False)
            tape.covered = next(iter(tape.closed))


def _hooked(cls: type, stream: KlineStream) -> type:
    """Return ``cls`` (a ccxt.pro exchange) reporting connections, drops and kline close flags to ``stream``."""

    def on_connected(self: Any, client: Any, message: Any = None) -> None:
        cls.on_connected(self, client, message)
        stream._connected_to(self)

    def on_close(self: Any, client: Any, error: Any) -> None:
        cls.on_close(self, client, error)
        stream._lost(f"socket closed ({error})")

    def on_error(self: Any, client: Any, error: Any) -> None:
        cls.on_error(self, client, error)
        stream._lost(f"socket error ({str(error)[:120]})")

    methods: dict[str, Any] = {"on_connected": on_connected, "on_close": on_close, "on_error": on_error}
    if hasattr(cls, "handle_ohlcv"):

        def handle_ohlcv(self: Any, client: Any, message: Any) -> None:
            cls.handle_ohlcv(self, client, message)
            k = message.get("k") if isinstance(message, dict) else None
            if isinstance(k, dict) and "x" in k:
                stream._flagged(str(k.get("s")), str(k.get("i")), int(k["t"]), bool(k["x"]), message.get("E"))

        methods["handle_ohlcv"] = handle_ohlcv
    return type(f"Streamed{cls.__name__}", (cls,), methods)


class KlineStream(TapeStream):
    """One ccxt.pro WebSocket connection to an exchange's kline streams, in a background thread.

    ``make_exchange(cls_hook)`` returns the ccxt.pro exchange, built from ``cls_hook(ccxt.pro.<id>)``
    (called inside the stream's thread: aiohttp binds to its loop); the other parameters are
    :class:`TapeStream`'s.
    """

    thread_name = "kline stream"

    def __init__(self, make_exchange: Callable[[Callable[[type], type]], Any], now: Callable[[], datetime], timeout: float = 30.0,
                 retry: float = 5.0, keep: int = 1000) -> None:
        super().__init__(now, timeout, retry, keep)
        self._make = make_exchange
        self._ids: dict[tuple[str, str], tuple[str, str]] = {}  # (market id, exchange interval) -> (symbol, timeframe)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ex: Any = None
        self._stop: asyncio.Event | None = None

    def _run(self) -> None:
        self._loop = None
        asyncio.run(self._main())

    def _started(self) -> bool:
        return self._loop is not None

    def _subscribe(self, symbol: str, timeframe: str) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._follow(symbol, timeframe), self._loop)

    def _shutdown(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop ended meanwhile
                pass

    def _drop_socket(self) -> None:
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._ex.close_ws_clients(), self._loop)

    # -- the stream's side (its own thread) ----------------------------------------------
    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            self._ex = self._make(lambda cls: _hooked(cls, self))
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._ready.set()
        try:
            await self._stop.wait()
        finally:
            with self._lock:
                self._up = False
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()
            try:
                await self._ex.close()
            except Exception as exc:  # closing a half-open socket at shutdown: nothing left to do
                log.debug("closing the kline stream: %s", exc)

    async def _follow(self, symbol: str, timeframe: str) -> None:
        ex = self._ex
        while True:
            try:
                if ex.markets is None:
                    await ex.load_markets()
                market = ex.market(symbol)
                with self._lock:
                    self._ids[(market["id"], ex.timeframes.get(timeframe, timeframe))] = (symbol, timeframe)
                await ex.watch_ohlcv(symbol, timeframe)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if (self._stop is not None and self._stop.is_set()) or (task is not None and task.cancelling()):
                    raise
                self._lost("socket closed")  # closing a client cancels its pending futures: this task goes on
                await asyncio.sleep(self.retry)
                continue
            except Exception as exc:  # ccxt NetworkError, a refused dial, a closed socket: poll until it is back
                self._lost(f"{type(exc).__name__}: {str(exc)[:160]}")
                await asyncio.sleep(self.retry)
                continue
            self._take(symbol, timeframe)

    def _connected_to(self, ex: Any) -> None:
        ex.ohlcvs = {}  # ccxt's kline cache from the old connection is not continuous with the new one either
        self._connected()

    def _flagged(self, market_id: str, interval: str, t: int, final: bool, event_ms: Any) -> None:
        with self._lock:
            key = self._ids.get((market_id, interval))
            tape = self._tapes.get(key) if key else None
            if event_ms is not None:
                self._event_ms = max(self._event_ms or 0, int(event_ms))
            if tape is None:
                return
            tape.snapshot = True
            if final:
                tape.final_upto = max(tape.final_upto, t)
        if key is not None:
            self._take(*key)  # the flag may close a kline no later kline has opened yet

    def _take(self, symbol: str, timeframe: str) -> None:
        """Move the klines that closed from ccxt's cache onto the tape (only those newer than the last taken)."""
        cache = (self._ex.ohlcvs.get(symbol) or {}).get(timeframe) or []
        with self._lock:
            tape = self._tapes[(symbol, timeframe)]
            if not self._up or not len(cache):
                return
            tape.heard = pd.Timestamp(self.now())
            if tape.covered is None:
                first = int(cache[0][0])
                tape.covered = first if tape.snapshot else first + tape.step
            newest = int(cache[-1][0])
            closed_upto = max(newest - 1, tape.final_upto)
            fresh = []
            for row in reversed(cache):
                t = int(row[0])
                if tape.done is not None and t <= tape.done:
                    break
                if t <= closed_upto:
                    fresh.append((t, tuple(float(x) for x in row[1:6])))
            for t, values in reversed(fresh):
                if t >= tape.covered:
                    tape.closed[t] = values
                tape.done = t
            self._trim(tape)
