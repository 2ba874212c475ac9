"""A fake Alpaca market-data stream (``wss://stream.data.alpaca.markets/v2/iex``): msgpack frames, minute bars.

It serves the bars of an :class:`~tests.fakes.alpaca_fake.AlpacaFake` (the same series
and clock the REST fake serves) in Alpaca's wire format, msgpack (alpaca-py asks for it
with ``Content-Type: application/msgpack``); every server frame is a list of messages:

- on connect: ``[{"T": "success", "msg": "connected"}]``;
- ``{"action": "auth", "key", "secret"}`` → ``[{"T": "success", "msg": "authenticated"}]``, or
  ``[{"T": "error", "code": 402, "msg": "auth failed"}]`` and the socket is closed;
- ``{"action": "subscribe", "bars": ["AAPL"]}`` → ``[{"T": "subscription", "trades": [], "quotes": [],
  "bars": ["AAPL"], ...}]``;
- a minute bar, pushed once its minute has closed: ``[{"T": "b", "S", "o", "h", "l", "c", "v",
  "t" (a msgpack Timestamp), "n", "vw"}]``.

The fake pushes only when the test says so (:meth:`AlpacaBarStreamFake.publish`, after moving
the REST fake's clock): every bar closed since the last push, as Alpaca would have pushed
them minute by minute. Faults as in :mod:`tests.fakes._ws`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgpack
from websockets.sync.server import ServerConnection

from ._ws import WsFake
from .alpaca_fake import AlpacaFake

CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "corrections", "cancelErrors")


class _Sub:
    """One subscribed symbol on one connection: the next minute whose bar is still owed."""

    def __init__(self, symbol: str, next_ts: datetime) -> None:
        self.symbol, self.next_ts = symbol, next_ts


class AlpacaBarStreamFake(WsFake):
    """Alpaca's stock data stream on ``ws://127.0.0.1:PORT/v2/iex`` over ``rest``'s bars and clock."""

    def __init__(self, rest: AlpacaFake) -> None:
        super().__init__()
        self.rest = rest
        self._authed: set[ServerConnection] = set()

    def publish(self) -> int:
        """Push the bars of every minute closed since the last push (up to the REST fake's clock); return how many."""
        with self.lock:
            if self.silent:
                return 0
            return sum(self._push(conn, sub) for conn, subs in list(self.subs.items()) for sub in subs)

    def _push(self, conn: ServerConnection, sub: _Sub) -> int:
        series = self.rest.series[sub.symbol]
        n = 0
        while sub.next_ts + series.step <= self.rest.now:
            i = (sub.next_ts - series.start) // series.step
            if i >= len(series.bars):
                break
            o, h, low, c, v = series.bars[i]
            msg = {"T": "b", "S": sub.symbol, "o": o, "h": h, "l": low, "c": c, "v": v,
                   "t": msgpack.Timestamp.from_unix_nano(int(sub.next_ts.timestamp()) * 10**9), "n": 10, "vw": c}
            if self.send(conn, msgpack.packb([msg])):
                self.sent.append(msg)
                n += 1
            sub.next_ts += series.step
        return n

    def on_open(self, conn: ServerConnection) -> None:
        self.send(conn, msgpack.packb([{"T": "success", "msg": "connected"}]))

    def on_message(self, conn: ServerConnection, raw: str | bytes, subs: list[Any]) -> None:
        req = msgpack.unpackb(raw if isinstance(raw, bytes) else raw.encode())
        action = req.get("action")
        if action == "auth":
            if req.get("key") != self.rest.api_key or req.get("secret") != self.rest.api_secret:
                self.send(conn, msgpack.packb([{"T": "error", "code": 402, "msg": "auth failed"}]))
                conn.close()
                return
            self._authed.add(conn)
            self.send(conn, msgpack.packb([{"T": "success", "msg": "authenticated"}]))
        elif conn not in self._authed:
            self.send(conn, msgpack.packb([{"T": "error", "code": 401, "msg": "not authenticated"}]))
        elif action == "subscribe":
            for symbol in req.get("bars", []):
                if all(s.symbol != symbol for s in subs):
                    series = self.rest.series[symbol]
                    subs.append(_Sub(symbol, series.start + (self.rest.now - series.start) // series.step * series.step))
            self.send(conn, msgpack.packb([{"T": "subscription", **{ch: [s.symbol for s in subs] if ch == "bars" else [] for ch in CHANNELS}}]))
        elif action == "unsubscribe":
            subs[:] = [s for s in subs if s.symbol not in req.get("bars", [])]
            self.send(conn, msgpack.packb([{"T": "subscription", **{ch: [s.symbol for s in subs] if ch == "bars" else [] for ch in CHANNELS}}]))
