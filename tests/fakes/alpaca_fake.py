"""A fake Alpaca trading + market-data REST API (``/v2`` shapes alpaca-py parses; decimals as strings).

Endpoints: account, orders (POST, GET list, GET by id, GET by client id, PATCH, DELETE),
positions, account activities (FILL), stock bars. Order classes simple, bracket and
oco; types market, limit, stop, stop_limit, trailing_stop. Credentials are checked
on the ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ._bars import MovingBars
from ._http import FakeVenue, Reply, Request
from ._match import marketable, triggered

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
OPEN = {"new", "accepted", "partially_filled", "held", "pending_new"}


def _d(x: float | None) -> str | None:
    return None if x is None else f"{x:.10g}"


class AlpacaFake(FakeVenue):
    """An Alpaca paper account with one cash balance and US equities."""

    def __init__(self, api_key: str = "pk-key", api_secret: str = "pk-secret", prices: dict[str, float] | None = None, cash: float = 100_000.0) -> None:
        super().__init__()
        self.api_key, self.api_secret = api_key, api_secret
        self.prices = dict(prices or {"AAPL": 190.0, "MSFT": 370.0})
        self.cash = cash
        self.orders: list[dict[str, Any]] = []
        self.activities: list[dict[str, Any]] = []
        self.positions: dict[str, list[float]] = {}  # symbol -> [qty, avg]
        self.reject_next: str | None = None
        self.partial_next: float | None = None
        self.now = T0
        self.series: dict[str, MovingBars] = {}
        self._seq = itertools.count(1)

    # -- helpers for tests --------------------------------------------------------
    def set_price(self, symbol: str, price: float) -> None:
        """Move a price and work every open order on that symbol."""
        with self.lock:
            self.prices[symbol] = price
            self.now += timedelta(seconds=1)
            for o in list(self.orders):
                if o["symbol"] == symbol and o["status"] in OPEN - {"held"}:
                    self._work(o)

    def orders_with_client_id(self, cid: str) -> list[dict[str, Any]]:
        """Return every order placed under ``cid`` (a duplicate would show up twice)."""
        with self.lock:
            return [o for o in self.orders if o["client_order_id"] == cid]

    # -- wire ------------------------------------------------------------------------
    def error_reply(self, status: int, retry_after: float | None = None) -> Reply:
        if status == 429:
            return Reply(429, {"code": 42910000, "message": "rate limit exceeded"}, {"Retry-After": str(int(retry_after or 1))})
        return Reply(status, {"code": 50010000, "message": "internal server error occurred"})

    def _err(self, status: int, code: int, message: str) -> Reply:
        return Reply(status, {"code": code, "message": message})

    def route(self, req: Request) -> Reply:
        if req.headers.get("APCA-API-KEY-ID") != self.api_key or req.headers.get("APCA-API-SECRET-KEY") != self.api_secret:
            return self._err(401, 40110000, "request is not authorized")
        p, m = req.path, req.method
        if p == "/v2/account":
            return Reply(200, self._account())
        if p == "/v2/orders" and m == "POST":
            return self._new(req.json)
        if p == "/v2/orders" and m == "GET":
            status = req.query.get("status", "open")
            rows = [o for o in self.orders if o.get("_top", True)]
            if status == "open":
                rows = [o for o in rows if o["status"] in OPEN or any(leg["status"] in OPEN for leg in o["_legs"])]
            elif status == "closed":
                rows = [o for o in rows if o["status"] not in OPEN]
            return Reply(200, [self._public(o, nested=req.query.get("nested", "").lower() == "true") for o in rows])
        if p == "/v2/orders:by_client_order_id":
            o = next((o for o in self.orders if o["client_order_id"] == req.query.get("client_order_id")), None)
            return Reply(200, self._public(o, nested=True)) if o else self._err(404, 40410000, "order not found")
        if p.startswith("/v2/orders/"):
            o = next((o for o in self.orders if o["id"] == p.rsplit("/", 1)[1]), None)
            if o is None:
                return self._err(404, 40410000, "order not found")
            if m == "GET":
                return Reply(200, self._public(o, nested=True))
            if m == "DELETE":
                if o["status"] not in OPEN:
                    return self._err(422, 42210000, "order is not cancelable")
                self._cancel(o)
                return Reply(204, "", content_type="application/json")
            if m == "PATCH":
                return self._replace(o, req.json or {})
        if p == "/v2/positions":
            return Reply(200, [self._position(s) for s, (q, _) in sorted(self.positions.items()) if q])
        if p == "/v2/account/activities/FILL":
            return Reply(200, self._activities(req.query))
        if p == "/v2/stocks/bars":
            return Reply(200, self._bars(req.query))
        return self._err(404, 40410000, f"endpoint not found {m} {p}")

    # -- model -------------------------------------------------------------------
    def _activities(self, q: dict[str, str]) -> list[dict[str, Any]]:
        """Account activities as Alpaca pages them: ``direction`` (default desc), ``after``/``until`` (exclusive), ``page_size`` (max 100), ``page_token``."""
        def at(text: str) -> datetime:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))

        rows = list(reversed(self.activities)) if q.get("direction", "desc") == "desc" else list(self.activities)
        if "after" in q:
            rows = [a for a in rows if at(a["transaction_time"]) > at(q["after"])]
        if "until" in q:
            rows = [a for a in rows if at(a["transaction_time"]) < at(q["until"])]
        if "page_token" in q:
            ids = [a["id"] for a in rows]
            rows = rows[ids.index(q["page_token"]) + 1:] if q["page_token"] in ids else []
        return rows[: min(int(q.get("page_size", 100)), 100)]

    def _account(self) -> dict[str, Any]:
        mv = sum(q * self.prices[s] for s, (q, _) in self.positions.items())
        return {
            "id": "11111111-2222-3333-4444-555555555555", "account_number": "PA3ABCDEF", "status": "ACTIVE", "crypto_status": "ACTIVE",
            "currency": "USD", "buying_power": _d(self.cash), "regt_buying_power": _d(self.cash), "daytrading_buying_power": "0",
            "non_marginable_buying_power": _d(self.cash), "cash": _d(self.cash), "accrued_fees": "0", "portfolio_value": _d(self.cash + mv),
            "pattern_day_trader": False, "trading_blocked": False, "transfers_blocked": False, "account_blocked": False,
            "created_at": "2023-01-01T00:00:00Z", "trade_suspended_by_user": False, "multiplier": "1", "shorting_enabled": True,
            "equity": _d(self.cash + mv), "last_equity": _d(self.cash + mv), "long_market_value": _d(mv), "short_market_value": "0",
            "initial_margin": "0", "maintenance_margin": "0", "last_maintenance_margin": "0", "sma": "0", "daytrade_count": 0,
        }

    def _order(self, j: dict[str, Any], **over: Any) -> dict[str, Any]:
        ts = self.now.isoformat().replace("+00:00", "Z")
        o = {
            "id": str(uuid.UUID(int=next(self._seq))), "client_order_id": j.get("client_order_id") or str(uuid.uuid4()),
            "created_at": ts, "updated_at": ts, "submitted_at": ts, "filled_at": None, "expired_at": None, "canceled_at": None,
            "failed_at": None, "replaced_at": None, "replaced_by": None, "replaces": None,
            "asset_id": str(uuid.UUID(int=abs(hash(j["symbol"])) % (1 << 64))), "symbol": j["symbol"], "asset_class": "us_equity",
            "notional": None, "qty": _d(float(j["qty"])), "filled_qty": "0", "filled_avg_price": None, "order_class": j.get("order_class") or "simple",
            "order_type": j["type"], "type": j["type"], "side": j["side"], "time_in_force": j["time_in_force"],
            "limit_price": _d(float(j["limit_price"])) if j.get("limit_price") is not None else None,
            "stop_price": _d(float(j["stop_price"])) if j.get("stop_price") is not None else None,
            "status": "accepted", "extended_hours": bool(j.get("extended_hours", False)), "legs": None,
            "trail_percent": _d(float(j["trail_percent"])) if j.get("trail_percent") is not None else None,
            "trail_price": _d(float(j["trail_price"])) if j.get("trail_price") is not None else None, "hwm": None,
            "position_intent": "buy_to_open" if j["side"] == "buy" else "sell_to_close",
            "_legs": [], "_top": True, "_oco": None,
        }
        o.update(over)
        return o

    def _new(self, j: dict[str, Any]) -> Reply:
        cid = j.get("client_order_id")
        if cid and any(o["client_order_id"] == cid for o in self.orders):
            return self._err(422, 40010001, "client_order_id must be unique")
        if self.reject_next:
            msg, self.reject_next = self.reject_next, None
            return self._err(422, 42210000, msg)
        sym = j.get("symbol")
        if sym not in self.prices:
            return self._err(422, 42210000, f"asset {sym} not found")
        qty = float(j["qty"])
        ref = float(j.get("limit_price") or self.prices[sym])
        if j["side"] == "buy" and qty * ref > self.cash:
            return self._err(403, 40310000, "insufficient buying power")
        order_class = j.get("order_class") or "simple"
        if order_class == "oco":
            # OCO: a limit (take profit) and a stop (stop loss) closing an existing position; the limit is the parent.
            parent = self._order({**j, "type": "limit", "limit_price": j["take_profit"]["limit_price"]})
            sl = j["stop_loss"]
            leg = self._order({"symbol": sym, "qty": j["qty"], "side": j["side"], "time_in_force": j["time_in_force"],
                               "type": "stop_limit" if sl.get("limit_price") else "stop", "stop_price": sl["stop_price"],
                               "limit_price": sl.get("limit_price"), "order_class": "oco"}, _top=False, client_order_id=str(uuid.uuid4()))
            parent["_legs"] = [leg]
            parent["_oco"], leg["_oco"] = leg, parent
            self.orders += [parent, leg]
            self._work(parent)
            self._work(leg)
            return Reply(200, self._public(parent, nested=True))
        order = self._order(j)
        self.orders.append(order)
        if order_class == "bracket":
            exit_side = "sell" if j["side"] == "buy" else "buy"
            tp = self._order({"symbol": sym, "qty": j["qty"], "side": exit_side, "time_in_force": j["time_in_force"], "type": "limit",
                              "limit_price": j["take_profit"]["limit_price"], "order_class": "bracket"},
                             _top=False, status="held", client_order_id=str(uuid.uuid4()))
            sl = j["stop_loss"]
            sl_leg = self._order({"symbol": sym, "qty": j["qty"], "side": exit_side, "time_in_force": j["time_in_force"],
                                  "type": "stop_limit" if sl.get("limit_price") else "stop", "stop_price": sl["stop_price"],
                                  "limit_price": sl.get("limit_price"), "order_class": "bracket"},
                                 _top=False, status="held", client_order_id=str(uuid.uuid4()))
            tp["_oco"], sl_leg["_oco"] = sl_leg, tp
            order["_legs"] = [tp, sl_leg]
            self.orders += [tp, sl_leg]
        partial, self.partial_next = self.partial_next, None
        self._work(order, partial)
        return Reply(200, self._public(order, nested=True))

    def _work(self, o: dict[str, Any], partial: float | None = None) -> None:
        if o["status"] not in OPEN - {"held"}:
            return
        price, side = self.prices[o["symbol"]], o["side"]
        typ = o["type"]
        if typ == "trailing_stop":
            hwm = float(o["hwm"]) if o["hwm"] else price
            hwm = max(hwm, price) if side == "sell" else min(hwm, price)
            o["hwm"] = _d(hwm)
            trail = float(o["trail_price"]) if o["trail_price"] else hwm * float(o["trail_percent"]) / 100
            o["stop_price"] = _d(hwm - trail if side == "sell" else hwm + trail)
        if typ in {"stop", "stop_limit", "trailing_stop"} and not o.get("_fired"):
            if not triggered(side, float(o["stop_price"]), price):
                return
            o["_fired"] = True
        limit = float(o["limit_price"]) if typ in {"limit", "stop_limit"} else None
        if not marketable(side, limit, price):
            return
        remaining = float(o["qty"]) - float(o["filled_qty"])
        self._fill(o, round(remaining * partial, 6) if partial else remaining, price)

    def _fill(self, o: dict[str, Any], qty: float, price: float) -> None:
        self.now += timedelta(milliseconds=10)
        sign = 1 if o["side"] == "buy" else -1
        pos = self.positions.setdefault(o["symbol"], [0.0, 0.0])
        new_qty = pos[0] + sign * qty
        if pos[0] == 0 or (pos[0] > 0) == (sign > 0):
            pos[1] = (pos[0] * pos[1] + sign * qty * price) / new_qty if new_qty else 0.0
        elif new_qty == 0:
            pos[1] = 0.0
        pos[0] = new_qty
        self.cash -= sign * qty * price
        done = float(o["filled_qty"]) + qty
        avg = ((float(o["filled_avg_price"] or 0) * float(o["filled_qty"])) + qty * price) / done
        o["filled_qty"], o["filled_avg_price"] = _d(done), _d(avg)
        ts = self.now.isoformat().replace("+00:00", "Z")
        o["updated_at"] = ts
        full = done >= float(o["qty"]) - 1e-9
        o["status"] = "filled" if full else "partially_filled"
        if full:
            o["filled_at"] = ts
        self.activities.append({
            "id": f"{self.now:%Y%m%d%H%M%S%f}::{uuid.uuid4()}", "activity_type": "FILL", "transaction_time": ts,
            "type": "fill" if full else "partial_fill", "price": _d(price), "qty": _d(qty), "side": o["side"], "symbol": o["symbol"],
            "leaves_qty": _d(float(o["qty"]) - done), "order_id": o["id"], "cum_qty": _d(done), "order_status": o["status"],
        })
        if full:
            for leg in o["_legs"]:
                if leg["status"] == "held":
                    leg["status"] = "new"
            if o["order_class"] == "bracket":
                for leg in o["_legs"]:
                    self._work(leg)
            if o["_oco"] is not None and o["_oco"]["status"] in OPEN:
                self._cancel(o["_oco"])

    def _cancel(self, o: dict[str, Any]) -> None:
        ts = self.now.isoformat().replace("+00:00", "Z")
        o["status"], o["canceled_at"], o["updated_at"] = "canceled", ts, ts
        for leg in o["_legs"]:
            if leg["status"] in OPEN:
                leg["status"], leg["canceled_at"], leg["updated_at"] = "canceled", ts, ts

    def _replace(self, o: dict[str, Any], j: dict[str, Any]) -> Reply:
        if o["status"] not in OPEN:
            return self._err(422, 42210000, "order is not replaceable")
        cid = j.get("client_order_id") or str(uuid.uuid4())
        if any(x["client_order_id"] == cid for x in self.orders):
            return self._err(422, 40010001, "client_order_id must be unique")
        base = {k: o[k] for k in ("symbol", "side", "type", "time_in_force", "order_class")}
        base["qty"] = j.get("qty") or o["qty"]
        for key in ("limit_price", "stop_price", "trail"):
            if key == "trail":
                continue
            base[key] = j.get(key) if j.get(key) is not None else o[key]
        base["trail_price"], base["trail_percent"] = o["trail_price"], o["trail_percent"]
        new = self._order({**base, "client_order_id": cid}, replaces=o["id"])
        ts = self.now.isoformat().replace("+00:00", "Z")
        o["status"], o["replaced_at"], o["replaced_by"], o["updated_at"] = "replaced", ts, new["id"], ts
        self.orders.append(new)
        self._work(new)
        return Reply(200, self._public(new))

    def _position(self, sym: str) -> dict[str, Any]:
        qty, avg = self.positions[sym]
        price = self.prices[sym]
        return {
            "asset_id": str(uuid.UUID(int=abs(hash(sym)) % (1 << 64))), "symbol": sym, "exchange": "NASDAQ", "asset_class": "us_equity",
            "asset_marginable": True, "avg_entry_price": _d(avg), "qty": _d(qty), "side": "long" if qty > 0 else "short",
            "market_value": _d(qty * price), "cost_basis": _d(qty * avg), "unrealized_pl": _d((price - avg) * qty),
            "unrealized_plpc": "0", "unrealized_intraday_pl": "0", "unrealized_intraday_plpc": "0", "current_price": _d(price),
            "lastday_price": _d(price), "change_today": "0", "qty_available": _d(qty),
        }

    def serve_bars(self, symbol: str, bars: MovingBars) -> None:
        """Serve ``bars`` of ``symbol``: only those opened by the fake's clock (``now``), the newest maybe forming."""
        with self.lock:
            self.series[symbol] = bars

    def _bars(self, q: dict[str, str]) -> dict[str, Any]:
        out: dict[str, list[dict[str, Any]]] = {}
        for sym in q["symbols"].split(","):
            if sym in self.series:
                lo = datetime.fromisoformat(q["start"].replace("Z", "+00:00")) if q.get("start") else None
                hi = datetime.fromisoformat(q["end"].replace("Z", "+00:00")) if q.get("end") else None
                out[sym] = [{"t": ts.isoformat().replace("+00:00", "Z"), "o": o, "h": h, "l": lo_, "c": c, "v": v, "n": 10, "vw": c}
                            for ts, o, h, lo_, c, v in self.series[sym].upto(self.now, lo, hi, int(q.get("limit") or 10_000))]
                continue
            price = self.prices[sym]
            out[sym] = [
                {"t": (T0 + timedelta(days=i)).isoformat().replace("+00:00", "Z"), "o": price, "h": price * 1.01, "l": price * 0.99,
                 "c": price, "v": 1_000_000 + i, "n": 5000, "vw": price}
                for i in range(int(q.get("limit") or 3))
            ]
        return {"bars": out, "next_page_token": None}

    def _public(self, o: dict[str, Any], nested: bool = False) -> dict[str, Any]:
        body = {k: v for k, v in o.items() if not k.startswith("_")}
        if nested and o["_legs"]:
            body["legs"] = [self._public(leg) for leg in o["_legs"]]
        return body
