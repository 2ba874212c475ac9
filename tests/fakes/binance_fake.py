"""A fake Binance spot REST API (the ``/api/v3`` shapes ccxt's binance class parses).

Endpoints: exchangeInfo, klines, depth, account, order (POST/GET/DELETE),
openOrders, myTrades. Signed endpoints check the ``X-MBX-APIKEY`` header and the
HMAC-SHA256 ``signature`` exactly as Binance does, so a test proves the real
client signs its requests. Fill rules are in :mod:`tests.fakes._match`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from typing import Any

from ._http import FakeVenue, Reply, Request
from ._match import marketable, triggered

FEE = 0.001
ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]
T0 = 1_704_153_600_000  # 2024-01-02 00:00 UTC in ms: the fake's clock starts here


def _s(x: float) -> str:
    return f"{x:.8f}"


class BinanceFake(FakeVenue):
    """Binance spot with a few USDT pairs, balances, orders and trades."""

    def __init__(self, api_key: str = "bn-key", api_secret: str = "bn-secret", prices: dict[str, float] | None = None,
                 balances: dict[str, float] | None = None) -> None:
        super().__init__()
        self.api_key, self.api_secret = api_key, api_secret
        self.prices = dict(prices or {"BTCUSDT": 50_000.0, "ETHUSDT": 3_000.0})
        self.free = dict(balances or {"USDT": 100_000.0, "BTC": 0.0, "ETH": 0.0})
        self.locked: dict[str, float] = dict.fromkeys(self.free, 0.0)
        self.orders: list[dict[str, Any]] = []
        self.trades: list[dict[str, Any]] = []
        self.reject_next: str | None = None
        self.partial_next: float | None = None
        self.now_ms = T0
        self.series: dict[str, tuple[int, int, list[tuple[float, float, float, float, float]]]] = {}
        self.freeze_data_at_ms: int | None = None
        self.depth = 2.0  # base quantity quoted at the best bid and at the best ask
        self._ids = itertools.count(1001)
        self._trade_ids = itertools.count(5001)

    # -- helpers for tests -------------------------------------------------------
    def set_price(self, symbol: str, price: float, advance_ms: int = 1000) -> None:
        """Move the price of ``symbol`` and fill whatever resting orders it reaches (the clock moves ``advance_ms`` on)."""
        with self.lock:
            self.prices[symbol] = price
            self.now_ms += advance_ms
            for order in self.orders:
                if order["symbol"] == symbol and order["status"] in {"NEW", "PARTIALLY_FILLED"}:
                    self._work(order)

    def orders_with_client_id(self, cid: str) -> list[dict[str, Any]]:
        """Return every order ever placed under ``cid`` (a duplicate shows up as two)."""
        with self.lock:
            return [o for o in self.orders if o["clientOrderId"] == cid]

    # -- wire --------------------------------------------------------------------
    def error_reply(self, status: int, retry_after: float | None = None) -> Reply:
        if status == 429:
            return Reply(429, {"code": -1003, "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE."},
                         {"Retry-After": str(int(retry_after or 1))})
        return Reply(status, {"code": -1000, "msg": "An unknown error occurred while processing the request."})

    def _err(self, code: int, msg: str, status: int = 400) -> Reply:
        return Reply(status, {"code": code, "msg": msg})

    def _check_auth(self, req: Request) -> Reply | None:
        if req.headers.get("X-MBX-APIKEY") != self.api_key:
            return self._err(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        raw = req.raw_query if req.method in {"GET", "DELETE"} else req.raw_body
        payload, _, sig = raw.rpartition("&signature=")
        if req.method not in {"GET", "DELETE"} and req.raw_query:
            payload = req.raw_query + payload
        expected = hmac.new(self.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig, expected):
            return self._err(-1022, "Signature for this request is not valid.")
        return None

    def route(self, req: Request) -> Reply:
        p = req.path
        if p == "/api/v3/exchangeInfo":
            return Reply(200, self._exchange_info())
        if p == "/api/v3/time":  # a fake whose data is frozen answers as a stuck server would: its clock stopped too
            return Reply(200, {"serverTime": self.now_ms if self.freeze_data_at_ms is None else min(self.now_ms, self.freeze_data_at_ms)})
        if p == "/api/v3/klines":
            return Reply(200, self._klines(req.query))
        if p == "/api/v3/depth":
            price = self.prices[req.query["symbol"]]
            return Reply(200, {"lastUpdateId": 1, "bids": [[_s(price - 1), _s(self.depth)]], "asks": [[_s(price + 1), _s(self.depth)]]})
        denied = self._check_auth(req)
        if denied:
            return denied
        params = {**req.query, **req.form}
        if p == "/api/v3/account":
            return Reply(200, self._account())
        if p == "/api/v3/order" and req.method == "POST":
            return self._new_order(params)
        if p == "/api/v3/orderList/oco" and req.method == "POST":
            return self._oco(params)
        if p == "/api/v3/order" and req.method == "GET":
            order = self._find(params)
            return Reply(200, self._public(order)) if order else self._err(-2013, "Order does not exist.")
        if p == "/api/v3/order" and req.method == "DELETE":
            return self._cancel(params)
        if p == "/api/v3/openOrders":
            sym = params.get("symbol")
            return Reply(200, [self._public(o) for o in self.orders if o["status"] in {"NEW", "PARTIALLY_FILLED"} and (not sym or o["symbol"] == sym)])
        if p == "/api/v3/myTrades":
            return Reply(200, [t for t in self.trades if t["symbol"] == params["symbol"]])
        return self._err(-1100, f"unknown endpoint {req.method} {p}", 404)

    # -- endpoints ----------------------------------------------------------------
    def _exchange_info(self) -> dict[str, Any]:
        symbols = []
        for sym in self.prices:
            base = sym[:-4]
            symbols.append({
                "symbol": sym, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8, "quoteAsset": "USDT",
                "quotePrecision": 8, "quoteAssetPrecision": 8, "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
                "orderTypes": ORDER_TYPES, "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True,
                "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True, "cancelReplaceAllowed": True,
                "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
                    {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
                    {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True, "maxNotional": "9000000.00000000",
                     "applyMaxToMarket": False, "avgPriceMins": 5},
                ],
                "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
            })
        return {"timezone": "UTC", "serverTime": self.now_ms, "rateLimits": [], "exchangeFilters": [], "symbols": symbols}

    def serve_klines(self, symbol: str, bars: list[tuple[float, float, float, float, float]], start_ms: int = T0,
                     interval_ms: int = 60_000) -> None:
        """Serve ``bars`` (open, high, low, close, volume) of ``symbol`` as klines opening at ``start_ms`` every ``interval_ms``.

        Only bars opened at or before the fake's clock (``now_ms``) are served, the newest
        one still forming (its close so far is its open) unless the clock reached its close
        time; ``freeze_data_at_ms`` makes the fake answer as if its data stopped there.
        """
        with self.lock:
            self.series[symbol] = (start_ms, interval_ms, list(bars))

    def _series_klines(self, q: dict[str, str]) -> list[list[Any]]:
        start_ms, step, bars = self.series[q["symbol"]]
        now = self.now_ms if self.freeze_data_at_ms is None else min(self.now_ms, self.freeze_data_at_ms)
        lo = int(q.get("startTime", start_ms))
        hi = min(int(q.get("endTime", now)), now)
        limit = min(int(q.get("limit", 500)), 1000)
        out = []
        first = max(0, -(-(lo - start_ms) // step))
        for i in range(first, len(bars)):
            t = start_ms + i * step
            if t > hi or len(out) >= limit:
                break
            o, h, low, c, v = bars[i]
            if t + step - 1 > now:  # still forming: only its open is known
                h, low, c, v = o, o, o, v / 10
            out.append([t, _s(o), _s(h), _s(low), _s(c), _s(v), t + step - 1, _s(v * c), 100, _s(v / 2), _s(v * c / 2), "0"])
        return out

    def _klines(self, q: dict[str, str]) -> list[list[Any]]:
        if q["symbol"] in self.series:
            return self._series_klines(q)
        price = self.prices[q["symbol"]]
        limit = int(q.get("limit", 5))
        out = []
        for i in range(limit):
            t = T0 + i * 60_000
            c = price * (1 + 0.001 * (i - limit + 1))
            out.append([t, _s(c * 0.999), _s(c * 1.002), _s(c * 0.998), _s(c), "12.5", t + 59_999, _s(12.5 * c), 100, "6.0", _s(6 * c), "0"])
        return out

    def _account(self) -> dict[str, Any]:
        return {
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False, "requireSelfTradePrevention": False,
            "preventSor": False, "updateTime": self.now_ms, "accountType": "SPOT",
            "balances": [{"asset": a, "free": _s(self.free[a]), "locked": _s(self.locked.get(a, 0.0))} for a in sorted(self.free)],
            "permissions": ["SPOT"], "uid": 354937868,
        }

    def _find(self, params: dict[str, str]) -> dict[str, Any] | None:
        if "orderId" in params:
            return next((o for o in self.orders if str(o["orderId"]) == params["orderId"]), None)
        cid = params.get("origClientOrderId")
        # Client IDs are unique among open orders only; the newest order with the ID answers.
        matches = [o for o in self.orders if o["clientOrderId"] == cid and o["symbol"] == params.get("symbol")]
        return matches[-1] if matches else None

    def _dup(self, cid: str) -> bool:
        return any(o["clientOrderId"] == cid and o["status"] in {"NEW", "PARTIALLY_FILLED"} for o in self.orders)

    def _funds_ok(self, sym: str, side: str, qty: float, ref: float) -> bool:
        base, quote = sym[:-4], "USDT"
        if side == "BUY":
            return qty * ref * (1 + FEE) <= self.free[quote] + 1e-9
        return qty <= self.free.get(base, 0.0) + 1e-12

    def _make(self, sym: str, side: str, typ: str, cid: str, qty: float, limit: float | None, stop: float | None, tif: str,
              hold: bool = True, list_id: int = -1) -> dict[str, Any]:
        base, quote = sym[:-4], "USDT"
        self.now_ms += 1
        order = {
            "symbol": sym, "orderId": next(self._ids), "orderListId": list_id, "clientOrderId": cid, "price": _s(limit or 0.0),
            "origQty": _s(qty), "executedQty": _s(0.0), "cummulativeQuoteQty": _s(0.0), "status": "NEW",
            "timeInForce": tif, "type": typ, "side": side, "stopPrice": _s(stop or 0.0),
            "icebergQty": _s(0.0), "time": self.now_ms, "updateTime": self.now_ms, "isWorking": stop is None,
            "workingTime": self.now_ms, "origQuoteOrderQty": _s(0.0), "selfTradePreventionMode": "EXPIRE_MAKER",
            "_triggered": stop is None, "_fills": [], "_hold": 0.0, "_partner": None,
        }
        if hold:
            ref = limit if limit is not None else self.prices[sym]
            asset, amount = (quote, qty * ref * (1 + FEE)) if side == "BUY" else (base, qty)
            self.free[asset] -= amount
            self.locked[asset] = self.locked.get(asset, 0.0) + amount
            order["_hold"] = amount
        self.orders.append(order)
        return order

    def _new_order(self, p: dict[str, str]) -> Reply:
        sym, side, typ = p["symbol"], p["side"], p["type"]
        cid = p.get("newClientOrderId") or f"web_{next(self._ids)}"
        if self._dup(cid):
            return self._err(-2010, "Duplicate order sent.")
        if typ not in ORDER_TYPES:
            return self._err(-1116, "Invalid orderType.")
        if self.reject_next:
            msg, self.reject_next = self.reject_next, None
            return self._err(-2010, msg)
        qty = float(p["quantity"])
        limit = float(p["price"]) if "price" in p else None
        stop = float(p["stopPrice"]) if "stopPrice" in p else None
        if not self._funds_ok(sym, side, qty, limit if limit is not None else self.prices[sym]):
            return self._err(-2010, "Account has insufficient balance for requested action.")
        order = self._make(sym, side, typ, cid, qty, limit, stop, p.get("timeInForce", "GTC"))
        partial, self.partial_next = self.partial_next, None
        self._work(order, partial)
        if order["timeInForce"] in {"IOC", "FOK"} and order["status"] in {"NEW", "PARTIALLY_FILLED"}:
            self._close(order, "EXPIRED")
        body = {**self._public(order), "transactTime": self.now_ms, "fills": order["_fills"]}
        return Reply(200, body)

    def _oco(self, p: dict[str, str]) -> Reply:
        """``POST /api/v3/orderList/oco``: an above leg and a below leg; when one trades the other expires."""
        sym, side, qty = p["symbol"], p["side"], float(p["quantity"])
        legs = []
        for pos in ("above", "below"):
            typ = p[f"{pos}Type"]
            legs.append((pos, typ, p.get(f"{pos}ClientOrderId") or f"web_{next(self._ids)}",
                         float(p[f"{pos}Price"]) if f"{pos}Price" in p else None,
                         float(p[f"{pos}StopPrice"]) if f"{pos}StopPrice" in p else None, p.get(f"{pos}TimeInForce", "GTC")))
        if any(self._dup(leg[2]) for leg in legs):
            return self._err(-2010, "Duplicate order sent.")
        price = self.prices[sym]
        for _, typ, _, limit, _, _ in legs:
            if typ == "LIMIT_MAKER" and limit is not None and ((side == "SELL" and limit <= price) or (side == "BUY" and limit >= price)):
                return self._err(-2010, "Order would immediately match and take.")
        if not self._funds_ok(sym, side, qty, max(x[3] or price for x in legs)):
            return self._err(-2010, "Account has insufficient balance for requested action.")
        list_id = next(self._ids)
        # One hold covers both legs, as at Binance: only one of them can ever trade.
        made = [self._make(sym, side, typ, cid, qty, limit, stop, tif, hold=i == 0, list_id=list_id)
                for i, (_, typ, cid, limit, stop, tif) in enumerate(legs)]
        made[0]["_partner"], made[1]["_partner"] = made[1], made[0]
        for order in made:
            self._work(order)
        return Reply(200, {
            "orderListId": list_id, "contingencyType": "OCO", "listStatusType": "EXEC_STARTED", "listOrderStatus": "EXECUTING",
            "listClientOrderId": p.get("listClientOrderId"), "transactionTime": self.now_ms, "symbol": sym,
            "orders": [{"symbol": sym, "orderId": o["orderId"], "clientOrderId": o["clientOrderId"]} for o in made],
            "orderReports": [self._public(o) for o in made],
        })

    def _work(self, order: dict[str, Any], partial: float | None = None) -> None:
        _sym, side, price = order["symbol"], order["side"], self.prices[order["symbol"]]
        if not order["_triggered"]:
            if not triggered(side, float(order["stopPrice"]), price):
                return
            order["_triggered"] = order["isWorking"] = True
        limit = float(order["price"]) if order["type"] in {"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER"} else None
        if not marketable(side, limit, price):
            return
        remaining = float(order["origQty"]) - float(order["executedQty"])
        qty = round(remaining * partial, 8) if partial else remaining
        self._fill(order, qty, price)

    def _fill(self, order: dict[str, Any], qty: float, price: float) -> None:
        base, quote = order["symbol"][:-4], "USDT"
        partner = order.get("_partner")
        if partner is not None and partner["status"] in {"NEW", "PARTIALLY_FILLED"}:
            order["_hold"], partner["_hold"] = order["_hold"] + partner["_hold"], 0.0
            self._close(partner, "EXPIRED")
        fee = qty * price * FEE
        if order["side"] == "BUY":
            cost = qty * price + fee
            order["_hold"] -= cost
            self.locked[quote] -= cost
            self.free[base] = self.free.get(base, 0.0) + qty
        else:
            order["_hold"] -= qty
            self.locked[base] -= qty
            self.free[quote] += qty * price - fee
        tid = next(self._trade_ids)
        self.now_ms += 1
        self.trades.append({
            "symbol": order["symbol"], "id": tid, "orderId": order["orderId"], "orderListId": -1, "price": _s(price), "qty": _s(qty),
            "quoteQty": _s(qty * price), "commission": _s(fee), "commissionAsset": quote, "time": self.now_ms,
            "isBuyer": order["side"] == "BUY", "isMaker": False, "isBestMatch": True,
        })
        order["_fills"].append({"price": _s(price), "qty": _s(qty), "commission": _s(fee), "commissionAsset": quote, "tradeId": tid})
        executed = float(order["executedQty"]) + qty
        order["executedQty"] = _s(executed)
        order["cummulativeQuoteQty"] = _s(float(order["cummulativeQuoteQty"]) + qty * price)
        order["updateTime"] = self.now_ms
        if executed >= float(order["origQty"]) - 1e-12:
            self._close(order, "FILLED")
        else:
            order["status"] = "PARTIALLY_FILLED"

    def _close(self, order: dict[str, Any], status: str) -> None:
        base, quote = order["symbol"][:-4], "USDT"
        asset = quote if order["side"] == "BUY" else base
        self.locked[asset] -= order["_hold"]
        self.free[asset] += order["_hold"]
        order["_hold"] = 0.0
        order["status"] = status
        order["updateTime"] = self.now_ms

    def _cancel(self, params: dict[str, str]) -> Reply:
        order = self._find(params)
        if order is None or order["status"] not in {"NEW", "PARTIALLY_FILLED"}:
            return self._err(-2011, "Unknown order sent.")
        self._after_cancel(order)  # canceling one leg of an OCO cancels the list
        self._close(order, "CANCELED")
        body = self._public(order)
        body["origClientOrderId"] = order["clientOrderId"]
        body["clientOrderId"] = f"cancel_{order['orderId']}"
        body["transactTime"] = self.now_ms
        return Reply(200, body)

    @staticmethod
    def _public(order: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in order.items() if not k.startswith("_")}

    def _after_cancel(self, order: dict[str, Any]) -> None:
        partner = order.get("_partner")
        if partner is not None and partner["status"] in {"NEW", "PARTIALLY_FILLED"}:
            partner["_hold"], order["_hold"] = partner["_hold"] + order["_hold"], 0.0
            self._close(partner, "CANCELED")
