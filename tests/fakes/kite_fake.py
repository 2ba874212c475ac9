"""A fake Zerodha Kite Connect v3 REST API (shapes the ``kiteconnect`` client parses).

Endpoints: orders (place/modify/cancel/list/history), trades, portfolio positions,
user margins, GTT triggers (place/list/get/delete), session token. Replies are
``{"status": "success", "data": ...}``; errors ``{"status": "error", "error_type": ..., "message": ...}``.
Like the real venue, an RMS rejection is accepted first (an order ID comes back)
and then shows status ``REJECTED`` with a ``status_message``. Times are IST strings.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import datetime, timedelta
from typing import Any

from ._bars import MovingBars
from ._http import FakeVenue, Reply, Request
from ._match import marketable, triggered

T0 = datetime(2024, 1, 2, 9, 15)  # IST, naive as Kite sends it


class KiteFake(FakeVenue):
    """A Kite account on NSE with cash, orders, trades, positions and GTTs."""

    def __init__(self, api_key: str = "kite-key", api_secret: str = "kite-secret", access_token: str = "kite-token",
                 prices: dict[str, float] | None = None, cash: float = 1_000_000.0) -> None:
        super().__init__()
        self.api_key, self.api_secret, self.access_token = api_key, api_secret, access_token
        self.prices = dict(prices or {"INFY": 1500.0, "TCS": 3800.0})
        self.cash = cash
        self.orders: list[dict[str, Any]] = []
        self.trades: list[dict[str, Any]] = []
        self.gtts: list[dict[str, Any]] = []
        self.net: dict[str, list[float]] = {}
        self.reject_next: str | None = None
        self.partial_next: float | None = None
        self.now = T0
        self.tokens: dict[str, int] = {}
        self.series: dict[str, MovingBars] = {}
        self._oid = itertools.count(240102000000001)
        self._tid = itertools.count(90000001)
        self._gid = itertools.count(101)

    def serve_historical(self, symbol: str, bars: MovingBars) -> int:
        """Serve ``bars`` (IST-naive start) as ``symbol``'s historical candles; return its instrument token."""
        with self.lock:
            self.tokens.setdefault(symbol, 256_265 + 256 * len(self.tokens))
            self.series[symbol] = bars
            return self.tokens[symbol]

    def _historical(self, token: int, q: dict[str, str]) -> Reply:
        symbol = next((s for s, t in self.tokens.items() if t == token), None)
        if symbol is None:
            return self._err(400, "InputException", "invalid token")
        lo, hi = (datetime.strptime(q[k], "%Y-%m-%d %H:%M:%S") for k in ("from", "to"))
        candles = [[ts.strftime("%Y-%m-%dT%H:%M:%S+0530"), o, h, low, c, int(v)] for ts, o, h, low, c, v in self.series[symbol].upto(self.now, lo, hi)]
        return self._ok({"candles": candles})

    def set_price(self, symbol: str, price: float) -> None:
        """Move a price, work open orders and fire GTTs."""
        with self.lock:
            self.prices[symbol] = price
            self.now += timedelta(seconds=1)
            for o in self.orders:
                if o["tradingsymbol"] == symbol and o["status"] in {"OPEN", "TRIGGER PENDING"}:
                    self._work(o)
            for g in self.gtts:
                if g["condition"]["tradingsymbol"] == symbol and g["status"] == "active":
                    self._fire(g, price)

    def orders_with_tag(self, tag: str) -> list[dict[str, Any]]:
        """Return every order placed with ``tag`` (a duplicate would show up twice)."""
        with self.lock:
            return [o for o in self.orders if o.get("tag") == tag]

    # -- wire ---------------------------------------------------------------------
    def _ok(self, data: Any) -> Reply:
        return Reply(200, {"status": "success", "data": data})

    def _err(self, status: int, error_type: str, message: str) -> Reply:
        return Reply(status, {"status": "error", "message": message, "data": None, "error_type": error_type})

    def error_reply(self, status: int, retry_after: float | None = None) -> Reply:
        if status == 429:
            r = self._err(429, "NetworkException", "Too many requests")
            r.headers["Retry-After"] = str(int(retry_after or 1))
            return r
        return self._err(status, "GeneralException", "Something went wrong. Please try again.")

    def _ts(self) -> str:
        return self.now.strftime("%Y-%m-%d %H:%M:%S")

    def route(self, req: Request) -> Reply:
        p, m = req.path, req.method
        if p == "/session/token" and m == "POST":
            f = req.form
            want = hashlib.sha256((self.api_key + f.get("request_token", "") + self.api_secret).encode()).hexdigest()
            if f.get("checksum") != want:
                return self._err(403, "TokenException", "Invalid `checksum`.")
            return self._ok({"user_id": "AB1234", "user_name": "Test", "access_token": self.access_token, "public_token": "pub",
                             "refresh_token": "", "login_time": self._ts(), "api_key": self.api_key})
        if req.headers.get("Authorization") != f"token {self.api_key}:{self.access_token}":
            return self._err(403, "TokenException", "Incorrect `api_key` or `access_token`.")
        parts = p.strip("/").split("/")
        if parts[:2] == ["instruments", "historical"] and m == "GET":
            return self._historical(int(parts[2]), req.query)
        if parts[0] == "instruments" and m == "GET":
            rows = ["instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange"]
            rows += [f"{tok},{tok // 256},{sym},{sym},0,,0,0.05,1,EQ,NSE,NSE" for sym, tok in self.tokens.items()]
            return Reply(200, "\n".join(rows) + "\n", content_type="text/csv")
        if p == "/orders" and m == "GET":
            return self._ok([self._public(o) for o in self.orders])
        if parts[0] == "orders" and m == "POST" and len(parts) == 2:
            return self._place(parts[1], req.form)
        if parts[0] == "orders" and len(parts) == 2 and m == "GET":
            o = self._get(parts[1])
            return self._ok(o["_history"] + [self._public(o)]) if o else self._err(400, "InputException", "Couldn't find that `order_id`.")
        if parts[0] == "orders" and len(parts) == 3 and m in {"PUT", "DELETE"}:
            o = self._get(parts[2])
            if o is None:
                return self._err(400, "InputException", "Couldn't find that `order_id`.")
            if o["status"] not in {"OPEN", "TRIGGER PENDING"}:
                return self._err(400, "InputException", f"Order cannot be {'modified' if m == 'PUT' else 'cancelled'} as it is being processed. Try later.")
            if m == "DELETE":
                self._snap(o)
                o["status"], o["cancelled_quantity"] = "CANCELLED", o["pending_quantity"]
                o["pending_quantity"] = 0
            else:
                self._snap(o)
                f = req.form
                for key in ("quantity", "price", "trigger_price"):
                    if key in f:
                        o[key] = float(f[key]) if key != "quantity" else int(f[key])
                o["pending_quantity"] = o["quantity"] - o["filled_quantity"]
                o["modified"] = True
                self._work(o)
            return self._ok({"order_id": o["order_id"]})
        if p == "/trades":
            return self._ok(list(self.trades))
        if p == "/portfolio/positions":
            net = [self._position(s) for s in sorted(self.net)]
            return self._ok({"net": net, "day": net})
        if p == "/user/margins":
            seg = {"enabled": True, "net": self.cash, "available": {"adhoc_margin": 0, "cash": self.cash, "opening_balance": self.cash,
                                                                   "live_balance": self.cash, "collateral": 0, "intraday_payin": 0},
                   "utilised": {"debits": 0, "exposure": 0, "m2m_realised": 0, "m2m_unrealised": 0}}
            return self._ok({"equity": seg, "commodity": {**seg, "net": 0.0}})
        if p == "/gtt/triggers" and m == "POST":
            return self._place_gtt(req.form)
        if p == "/gtt/triggers" and m == "GET":
            return self._ok([self._gpublic(g) for g in self.gtts])
        if parts[:2] == ["gtt", "triggers"] and len(parts) == 3:
            g = next((g for g in self.gtts if str(g["id"]) == parts[2]), None)
            if g is None:
                return self._err(400, "InputException", "Invalid trigger ID.")
            if m == "DELETE":
                g["status"] = "deleted"
                return self._ok({"trigger_id": g["id"]})
            return self._ok(self._gpublic(g))
        return self._err(404, "GeneralException", f"Route not found {m} {p}")

    # -- orders -----------------------------------------------------------------------
    def _get(self, oid: str) -> dict[str, Any] | None:
        return next((o for o in self.orders if o["order_id"] == oid), None)

    def _snap(self, o: dict[str, Any]) -> None:
        o["_history"].append(self._public(o))

    def _place(self, variety: str, f: dict[str, str]) -> Reply:
        if f.get("order_type") not in {"MARKET", "LIMIT", "SL", "SL-M"}:
            return self._err(400, "InputException", "Invalid `order_type`.")
        if len(f.get("tag", "")) > 20:
            return self._err(400, "InputException", "Tag length should be less than or equal to 20 characters.")
        sym, qty = f["tradingsymbol"], int(f["quantity"])
        if sym not in self.prices:
            return self._err(400, "InputException", "Invalid `tradingsymbol`.")
        self.now += timedelta(milliseconds=100)
        price = float(f.get("price") or 0)
        trig = float(f.get("trigger_price") or 0)
        o = {
            "placed_by": "AB1234", "order_id": str(next(self._oid)), "exchange_order_id": None, "parent_order_id": None,
            "status": "PUT ORDER REQ RECEIVED", "status_message": None, "status_message_raw": None, "order_timestamp": self._ts(),
            "exchange_update_timestamp": None, "exchange_timestamp": None, "variety": variety, "modified": False,
            "exchange": f.get("exchange", "NSE"), "tradingsymbol": sym, "instrument_token": 408065, "order_type": f["order_type"],
            "transaction_type": f["transaction_type"], "validity": f.get("validity", "DAY"), "validity_ttl": 0, "product": f.get("product", "CNC"),
            "quantity": qty, "disclosed_quantity": 0, "price": price, "trigger_price": trig, "average_price": 0.0, "filled_quantity": 0,
            "pending_quantity": qty, "cancelled_quantity": 0, "market_protection": 0, "meta": {}, "tag": f.get("tag"),
            "tags": [f["tag"]] if f.get("tag") else [], "guid": f"guid{len(self.orders)}", "_history": [],
        }
        self.orders.append(o)
        self._snap(o)
        ref = price or self.prices[sym]
        if self.reject_next or (f["transaction_type"] == "BUY" and qty * ref > self.cash):
            msg = self.reject_next or f"RMS:Margin Exceeds, Required:{qty * ref:.2f}, Available:{self.cash:.2f} for entity account-AB1234"
            self.reject_next = None
            o["status"], o["status_message"], o["status_message_raw"] = "REJECTED", msg, msg
            return self._ok({"order_id": o["order_id"]})
        o["status"] = "TRIGGER PENDING" if o["order_type"] in {"SL", "SL-M"} else "OPEN"
        o["exchange_order_id"] = "1100000" + o["order_id"][-8:]
        o["exchange_timestamp"] = o["exchange_update_timestamp"] = self._ts()
        partial, self.partial_next = self.partial_next, None
        self._work(o, partial)
        if o["validity"] == "IOC" and o["status"] == "OPEN":
            o["status"], o["cancelled_quantity"], o["pending_quantity"] = "CANCELLED", o["pending_quantity"], 0
        return self._ok({"order_id": o["order_id"]})

    def _work(self, o: dict[str, Any], partial: float | None = None) -> None:
        side, price = o["transaction_type"], self.prices[o["tradingsymbol"]]
        if o["status"] == "TRIGGER PENDING":
            if not triggered(side, o["trigger_price"], price):
                return
            self._snap(o)
            o["status"] = "OPEN"
        limit = o["price"] if o["order_type"] in {"LIMIT", "SL"} else None
        if not marketable(side, limit, price):
            return
        qty = o["pending_quantity"]
        if partial:
            qty = max(1, int(qty * partial))
        self._fill(o, qty, price)

    def _fill(self, o: dict[str, Any], qty: int, price: float) -> None:
        self.now += timedelta(milliseconds=100)
        sign = 1 if o["transaction_type"] == "BUY" else -1
        pos = self.net.setdefault(o["tradingsymbol"], [0.0, 0.0, 0.0, 0.0])  # qty, avg, buy_value, sell_value
        new_qty = pos[0] + sign * qty
        if pos[0] == 0 or (pos[0] > 0) == (sign > 0):
            pos[1] = (pos[0] * pos[1] + sign * qty * price) / new_qty if new_qty else 0.0
        pos[0] = new_qty
        pos[2 if sign > 0 else 3] += qty * price
        self.cash -= sign * qty * price
        self.trades.append({
            "trade_id": str(next(self._tid)), "order_id": o["order_id"], "exchange": o["exchange"], "tradingsymbol": o["tradingsymbol"],
            "instrument_token": 408065, "product": o["product"], "average_price": price, "quantity": qty,
            "exchange_order_id": o["exchange_order_id"], "transaction_type": o["transaction_type"], "fill_timestamp": self._ts(),
            "order_timestamp": self._ts()[11:], "exchange_timestamp": self._ts(),
        })
        self._snap(o)
        filled = o["filled_quantity"] + qty
        o["average_price"] = (o["average_price"] * o["filled_quantity"] + price * qty) / filled
        o["filled_quantity"], o["pending_quantity"] = filled, o["quantity"] - filled
        o["exchange_update_timestamp"] = self._ts()
        if o["pending_quantity"] == 0:
            o["status"] = "COMPLETE"

    def _position(self, sym: str) -> dict[str, Any]:
        qty, avg, buy_value, sell_value = self.net[sym]
        last = self.prices[sym]
        return {
            "tradingsymbol": sym, "exchange": "NSE", "instrument_token": 408065, "product": "CNC", "quantity": int(qty),
            "overnight_quantity": 0, "multiplier": 1, "average_price": avg, "close_price": last, "last_price": last,
            "value": sell_value - buy_value, "pnl": (sell_value - buy_value) + qty * last, "m2m": 0.0,
            "unrealised": (last - avg) * qty, "realised": 0.0, "buy_quantity": 0, "buy_price": 0, "buy_value": buy_value,
            "sell_quantity": 0, "sell_price": 0, "sell_value": sell_value,
        }

    # -- GTT ------------------------------------------------------------------------------
    def _place_gtt(self, f: dict[str, str]) -> Reply:
        cond, orders = json.loads(f["condition"]), json.loads(f["orders"])
        if f["type"] == "two-leg" and (len(cond["trigger_values"]) != 2 or len(orders) != 2):
            return self._err(400, "InputException", "Invalid trigger values for two-leg GTT.")
        g = {"id": next(self._gid), "user_id": "AB1234", "parent_trigger": None, "type": f["type"], "created_at": self._ts(),
             "updated_at": self._ts(), "expires_at": (self.now + timedelta(days=365)).strftime("%Y-%m-%d %H:%M:%S"), "status": "active",
             "condition": cond, "orders": [{**o, "result": None} for o in orders], "meta": None}
        self.gtts.append(g)
        return self._ok({"trigger_id": g["id"]})

    def _fire(self, g: dict[str, Any], price: float) -> None:
        values = g["condition"]["trigger_values"]
        leg = None
        if g["type"] == "two-leg":
            leg = 0 if price <= values[0] else 1 if price >= values[1] else None
        elif (price <= values[0]) == (g["condition"]["last_price"] > values[0]):
            leg = 0
        if leg is None:
            return
        spec = g["orders"][leg]
        reply = self._place("regular", {"exchange": spec["exchange"], "tradingsymbol": spec["tradingsymbol"], "transaction_type": spec["transaction_type"],
                                        "quantity": str(spec["quantity"]), "order_type": spec["order_type"], "product": spec["product"],
                                        "price": str(spec["price"])})
        oid = reply.body["data"]["order_id"]
        g["orders"][leg]["result"] = {"order_result": {"order_id": oid, "status": "success", "rejection_reason": ""}, "timestamp": self._ts(),
                                      "triggered_at": price}
        g["status"], g["updated_at"] = "triggered", self._ts()

    @staticmethod
    def _gpublic(g: dict[str, Any]) -> dict[str, Any]:
        return dict(g)

    @staticmethod
    def _public(o: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in o.items() if not k.startswith("_")}
