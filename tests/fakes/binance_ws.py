"""A fake Binance spot market-data WebSocket (the raw kline stream ccxt.pro's binance class reads).

It serves the klines of a :class:`~tests.fakes.binance_fake.BinanceFake` (the same
series and clock the REST fake serves), over Binance's own wire format:

- the client connects to ``/ws/...`` and sends ``{"method": "SUBSCRIBE", "params":
  ["btcusdt@kline_1m"], "id": 1}``; the server answers ``{"result": null, "id": 1}`` and
  pushes the current kline at once;
- every push is ``{"e": "kline", "E": event ms, "s": "BTCUSDT", "k": {"t", "T", "s", "i",
  "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B"}}``; ``x`` is true on the
  last update of a kline (it closed), and a kline still forming carries what the REST fake
  shows for it (only its open known).

The fake pushes only when the test says so (:meth:`BinanceKlineStream.publish`, after
moving the REST fake's clock): one final message per kline closed since the last push,
then the forming kline, as a real stream would have sent them while time passed. Faults:
:meth:`drop` cuts every connection without a close frame and refuses new ones (HTTP 503)
until :meth:`resume`; :meth:`silence` keeps sockets open but sends nothing.
"""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.server import ServerConnection

from ._ws import WsFake
from .binance_fake import BinanceFake

INTERVALS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}


def _s(x: float) -> str:
    return f"{x:.8f}"


class _Sub:
    """One subscribed stream on one connection: the next kline whose final message is still owed."""

    def __init__(self, symbol: str, interval: str, next_final: int) -> None:
        self.symbol, self.interval, self.next_final = symbol, interval, next_final


class BinanceKlineStream(WsFake):
    """Binance's raw kline stream on ``ws://127.0.0.1:PORT/ws`` over ``rest``'s klines and clock."""

    def __init__(self, rest: BinanceFake) -> None:
        super().__init__()
        self.rest = rest

    def publish(self, start_next: bool = True) -> int:
        """Push what changed up to the REST fake's clock: finals of the klines closed since the last push, then the forming one.

        ``start_next=False`` holds back the first update of a kline that has just started
        (Binance sends a kline's final message at its close and the next kline a moment later).
        Returns the number of messages pushed.
        """
        with self.lock:
            if self.silent:
                return 0
            return sum(self._push(conn, sub, start_next) for conn, subs in list(self.subs.items()) for sub in subs)

    def _push(self, conn: ServerConnection, sub: _Sub, start_next: bool) -> int:
        start_ms, step, bars = self.rest.series[sub.symbol]
        now = self.rest.now_ms
        n = 0
        while sub.next_final + step <= now and (sub.next_final - start_ms) // step < len(bars):  # closed since the last push
            n += self._send(conn, sub, sub.next_final, final=True)
            sub.next_final += step
        if start_next and sub.next_final <= now and (sub.next_final - start_ms) // step < len(bars):
            n += self._send(conn, sub, sub.next_final, final=False)
        return n

    def _kline(self, symbol: str, interval: str, t: int, final: bool) -> dict[str, Any]:
        start_ms, step, bars = self.rest.series[symbol]
        o, h, low, c, v = bars[(t - start_ms) // step]
        if not final:  # still forming: what the REST fake shows for it
            h, low, c, v = o, o, o, v / 10
        k = {"t": t, "T": t + step - 1, "s": symbol, "i": interval, "f": 100, "L": 200, "o": _s(o), "c": _s(c), "h": _s(h),
             "l": _s(low), "v": _s(v), "n": 100, "x": final, "q": _s(v * c), "V": _s(v / 2), "Q": _s(v * c / 2), "B": "0"}
        return {"e": "kline", "E": self.rest.now_ms, "s": symbol, "k": k}

    def _send(self, conn: ServerConnection, sub: _Sub, t: int, final: bool) -> int:
        msg = self._kline(sub.symbol, sub.interval, t, final)
        if not self.send(conn, json.dumps(msg)):
            return 0
        self.sent.append(msg)
        return 1

    def on_message(self, conn: ServerConnection, raw: str | bytes, subs: list[Any]) -> None:
        req = json.loads(raw)
        if req.get("method") == "SUBSCRIBE":
            added = []
            for name in req.get("params", []):
                market, _, kind = name.partition("@")
                interval = kind.removeprefix("kline_")
                symbol, step = market.upper(), INTERVALS[interval]
                start_ms = self.rest.series[symbol][0]
                added.append(_Sub(symbol, interval, start_ms + (self.rest.now_ms - start_ms) // step * step))
            subs.extend(added)
            self.send(conn, json.dumps({"result": None, "id": req.get("id")}))
            for sub in added:
                if not self.silent:
                    self._push(conn, sub, True)  # Binance pushes the current kline soon after subscribing
        elif req.get("method") == "UNSUBSCRIBE":
            names = {p.split("@")[0].upper() for p in req.get("params", [])}
            subs[:] = [s for s in subs if s.symbol not in names]
            self.send(conn, json.dumps({"result": None, "id": req.get("id")}))
