"""Binance spot through ccxt: testnet by default (ccxt sandbox mode), live only when confirmed.

Native: market, limit, stop (``STOP_LOSS``), stop-limit (``STOP_LOSS_LIMIT``) and
OCO (``orderList/oco``; ask with ``order.tags``: ``order_class="oco"``,
``take_profit``, ``stop_loss``, optional ``stop_loss_limit``); trailing stops
are emulated by the order manager. Client order IDs travel as
``newClientOrderId``. Rate limits use ccxt's own limiter (``enableRateLimit``);
retries and the lookup-before-resubmit rule are in :mod:`core.brokers.retry`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import ccxt
from pydantic import SecretStr

from core.brokers._binance_wire import fill_from_wire, map_ccxt_error, order_from_wire
from core.brokers._venue import fills_since, guard_live, is_live_endpoint, plain, venue_client_id
from core.brokers.base import Balance, Capabilities, OrderNotFound, OrderRejected
from core.brokers.retry import RetryPolicy, call_with_retry, submit_idempotent
from core.domain import AssetClass, Fill, Order, OrderStatus, OrderType, Position, Side, TimeInForce

log = logging.getLogger("core.brokers.binance")

_CID_CHARS = r"A-Za-z0-9._:/\-"


#: Binance's sandbox hosts (ccxt's sandbox mode points there); every other non-loopback host is live.
TESTNET_HOSTS = ("testnet.binance.vision", "testnet.binancefuture.com")


class BinanceBroker:
    """The Binance spot adapter (implements :class:`core.brokers.base.Broker`).

    Parameters
    ----------
    api_key, api_secret
        Credentials (``SecretStr``), from the environment or ``.env`` only.
    testnet
        Use ``testnet.binance.vision`` (default). ``False`` is live trading. Live is
        decided by the resolved endpoints: a ``base_url`` that is neither loopback nor
        a testnet host is live whatever this flag says.
    allow_live
        Must be True to build a live adapter; :func:`core.brokers.factory.build_broker`
        sets it only when ``mode: live`` and ``live_confirmed: true``.
    base_url
        Re-host every REST endpoint at this origin (a local fake or proxy), keeping paths.
    symbols
        Symbols to reconcile fills for after a restart (Binance lists trades per symbol).
    """

    name = "binance"

    def __init__(self, api_key: SecretStr | str, api_secret: SecretStr | str, *, testnet: bool = True, allow_live: bool = False,
                 base_url: str | None = None, timeout: float = 10.0, policy: RetryPolicy | None = None, symbols: Iterable[str] = (),
                 quote: str = "USDT", maker_fee: float = 0.001, taker_fee: float = 0.001, rate_limit_ms: float | None = None,
                 sleep: Callable[[float], None] = time.sleep, name: str | None = None) -> None:
        self.testnet = testnet
        self.policy = policy or RetryPolicy()
        self.quote = quote
        self._sleep = sleep
        self._fees = (maker_fee, taker_fee)
        self._symbols: set[str] = {self.normalize(s) for s in symbols}
        self._sym_of: dict[str, str] = {}  # our client id -> unified symbol
        self._cid_of_venue: dict[str, str] = {}  # venue client id -> our client id
        self._cid_of_oid: dict[str, str] = {}  # venue order id -> our client id
        self.exchange = ccxt.binance({
            "apiKey": plain(api_key), "secret": plain(api_secret), "enableRateLimit": True, "timeout": int(timeout * 1000),
            "options": {
                "defaultType": "spot", "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False,
                "warnOnFetchOpenOrdersWithoutSymbol": False, "adjustForTimeDifference": False,
            },
        })
        if testnet:
            self.exchange.set_sandbox_mode(True)
        if rate_limit_ms is not None:
            self.exchange.rateLimit = rate_limit_ms
        if base_url:
            self._rehost(base_url.rstrip("/"))
        # Live is decided by where the requests would go, not by the testnet flag (a live base URL is live).
        live = is_live_endpoint([u for u in self.exchange.urls["api"].values() if isinstance(u, str)], TESTNET_HOSTS)
        guard_live("binance", live=live, allow_live=allow_live)
        self.name = name or ("binance" if live or not testnet else "binance-testnet")
        self._status: int | None = None
        hook = self.exchange.on_rest_response

        def remember_status(code, reason, url, method, headers, body, *rest):  # ccxt hides the HTTP status from its errors
            self._status = code
            return hook(code, reason, url, method, headers, body, *rest)

        self.exchange.on_rest_response = remember_status

    # -- plumbing ------------------------------------------------------------------
    def _rehost(self, origin: str) -> None:
        from urllib.parse import urlparse

        api = self.exchange.urls["api"]
        for key, url in list(api.items()):
            if isinstance(url, str):
                api[key] = origin + urlparse(url).path
        self.exchange.urls["api"] = api

    def _call(self, fn: Callable[[], Any]) -> Any:
        self._status = None
        try:
            return fn()
        except ccxt.BaseError as exc:
            raise map_ccxt_error(exc, self.name, dict(self.exchange.last_response_headers or {}), self._status) from None

    def _read(self, fn: Callable[[], Any], what: str) -> Any:
        return call_with_retry(lambda: self._call(fn), self.policy, what=f"{self.name} {what}", sleep=self._sleep)

    def _markets(self) -> None:
        if not self.exchange.markets:
            self._read(self.exchange.load_markets, "load_markets")

    def normalize(self, symbol: str) -> str:
        """Return the ccxt unified symbol (``BTC/USDT``) for ``BTC/USDT``, ``BTC-USDT`` or ``BTCUSDT``."""
        s = symbol.upper().replace("-", "/")
        if "/" not in s and s.endswith(self.quote):
            s = f"{s[: -len(self.quote)]}/{self.quote}"
        return s

    # -- capabilities ------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        """Return Binance spot's native order types, TIFs and fees (lot/tick rules per symbol in ``extra``)."""
        extra: dict[str, object] = {"trailing": "emulated", "replace": "cancel+new", "client_id_max": 36,
                                    "oco": "native orderList/oco via tags take_profit, stop_loss[, stop_loss_limit], order_class=oco"}
        if self.exchange.markets:
            extra["rules"] = {
                s: {"tick_size": m["precision"]["price"], "lot_size": m["precision"]["amount"], "min_notional": (m["limits"]["cost"] or {}).get("min")}
                for s, m in self.exchange.markets.items()
            }
        return Capabilities(
            order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT}),
            time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
            asset_classes=frozenset({AssetClass.CRYPTO}),
            oco=True, bracket=False, shorting=False, fractional=True,
            maker_fee=self._fees[0], taker_fee=self._fees[1], extra=extra,
        )

    # -- mapping ---------------------------------------------------------------------
    def _to_domain(self, raw: dict[str, Any], cid: str | None = None) -> Order:
        info = raw.get("info") or {}
        venue_cid = info.get("origClientOrderId") or raw.get("clientOrderId") or info.get("clientOrderId") or ""
        oid = str(raw.get("id") or info.get("orderId"))
        cid = cid or self._cid_of_oid.get(oid) or self._cid_of_venue.get(venue_cid) or venue_cid
        self._cid_of_oid[oid] = cid
        symbol = raw.get("symbol") or self.normalize(info.get("symbol", ""))
        self._sym_of[cid] = symbol
        self._symbols.add(symbol)
        return order_from_wire(raw, client_order_id=cid, broker_order_id=oid, symbol=symbol, venue=self.name)

    # -- orders ------------------------------------------------------------------------
    def submit(self, order: Order) -> Order:
        """Send ``order``; idempotent on its client ID (a retry or a repeated submit never doubles it)."""
        return self._submit(order, check_first=True)

    def _submit(self, order: Order, check_first: bool) -> Order:
        self._markets()
        symbol = self.normalize(order.symbol)
        if order.order_type is OrderType.TRAILING_STOP:
            raise OrderRejected(f"{self.name}: trailing stops are not native on Binance spot; let the order manager emulate them")
        if order.time_in_force is TimeInForce.DAY:
            raise OrderRejected(f"{self.name}: Binance has no DAY time in force; use gtc, ioc or fok")
        venue_cid = venue_client_id(order.client_order_id, 36, _CID_CHARS)
        self._cid_of_venue[venue_cid] = order.client_order_id
        self._sym_of[order.client_order_id] = symbol
        self._symbols.add(symbol)
        tags = order.tags or {}
        if tags.get("order_class") == "oco" and "take_profit" in tags and "stop_loss" in tags:
            return self._submit_oco(order, symbol)  # always checks first
        params: dict[str, Any] = {"newClientOrderId": venue_cid}
        kind, price = "market", None
        if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            kind, price = "limit", order.limit_price
            params["timeInForce"] = order.time_in_force.value.upper()
        if order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
            params["stopPrice"] = order.stop_price

        def send(o: Order) -> Order:
            try:
                raw = self._call(lambda: self.exchange.create_order(symbol, kind, o.side.value, o.quantity, price, dict(params)))
            except OrderRejected as exc:
                if "Duplicate order" not in str(exc):
                    raise
                return self._fetch(o.client_order_id, symbol)  # an earlier attempt landed late: that one is the order
            return self._to_domain(raw, o.client_order_id)

        placed = submit_idempotent(order, send, lambda cid: self._fetch(cid, symbol), self.policy, sleep=self._sleep, check_first=check_first)
        log.info("%s accepted %s %s %s %s (%s)", self.name, placed.client_order_id, placed.side, placed.quantity, symbol, placed.status)
        return placed

    def _submit_oco(self, order: Order, symbol: str) -> Order:
        """Place a native OCO (``POST /api/v3/orderList/oco``): a LIMIT_MAKER take-profit and a STOP_LOSS_LIMIT stop.

        The take-profit leg carries our client ID, the stop leg ``"<id>:stop_loss"``, so
        both are found again by client ID after a timeout or a restart.
        """
        tags = order.tags
        tp, stop = float(tags["take_profit"]), float(tags["stop_loss"])
        stop_limit = float(tags.get("stop_loss_limit") or stop)
        cid_tp, cid_sl = order.client_order_id, f"{order.client_order_id}:stop_loss"
        v_tp, v_sl = venue_client_id(cid_tp, 36, _CID_CHARS), venue_client_id(cid_sl, 36, _CID_CHARS)
        self._cid_of_venue.update({v_tp: cid_tp, v_sl: cid_sl})
        self._sym_of[cid_sl] = symbol
        ex = self.exchange
        take = {"Type": "LIMIT_MAKER", "Price": ex.price_to_precision(symbol, tp), "ClientOrderId": v_tp}
        stop_leg = {"Type": "STOP_LOSS_LIMIT", "Price": ex.price_to_precision(symbol, stop_limit), "StopPrice": ex.price_to_precision(symbol, stop),
                    "TimeInForce": "GTC", "ClientOrderId": v_sl}
        # A sell OCO takes profit above the market and stops below it; a buy OCO the other way round.
        above, below = (take, stop_leg) if order.side is Side.SELL else (stop_leg, take)
        params: dict[str, Any] = {"symbol": ex.market_id(symbol), "side": order.side.value.upper(), "quantity": ex.amount_to_precision(symbol, order.quantity),
                                  "listClientOrderId": venue_client_id(f"{order.client_order_id}:oco", 36, _CID_CHARS)}
        params.update({f"above{k}": v for k, v in above.items()})
        params.update({f"below{k}": v for k, v in below.items()})
        market = ex.market(symbol)

        def send(o: Order) -> Order:
            try:
                raw = self._call(lambda: ex.private_post_orderlist_oco(dict(params)))
            except OrderRejected as exc:
                if "Duplicate order" not in str(exc):
                    raise
                return self._fetch(cid_tp, symbol)
            legs = [self._to_domain(ex.parse_order(r, market)) for r in raw["orderReports"]]
            return next(leg for leg in legs if leg.client_order_id == cid_tp)

        return submit_idempotent(order, send, lambda cid: self._fetch(cid, symbol), self.policy, sleep=self._sleep, check_first=True)

    def _fetch(self, cid: str, symbol: str) -> Order:
        venue_cid = venue_client_id(cid, 36, _CID_CHARS)
        raw = self._call(lambda: self.exchange.fetch_order(None, symbol, {"origClientOrderId": venue_cid}))
        return self._to_domain(raw, cid)

    def _symbol_for(self, cid: str) -> str:
        if cid in self._sym_of:
            return self._sym_of[cid]
        for o in self.open_orders():
            if o.client_order_id == cid:
                return o.symbol
        for symbol in sorted(self._symbols):
            try:
                return self._fetch(cid, symbol).symbol
            except OrderNotFound:
                continue
        raise OrderNotFound(f"{self.name}: no order with client ID {cid}; pass its symbol in BinanceBroker(symbols=...) after a restart")

    def get_order(self, client_order_id: str) -> Order:
        """Return the venue's view of one order."""
        self._markets()
        symbol = self._symbol_for(client_order_id)
        return call_with_retry(lambda: self._fetch(client_order_id, symbol), self.policy, what=f"{self.name} get_order", sleep=self._sleep)

    def cancel(self, client_order_id: str) -> Order:
        """Cancel an open order and return its final state (already-final orders are returned as they are)."""
        self._markets()
        symbol = self._symbol_for(client_order_id)
        venue_cid = venue_client_id(client_order_id, 36, _CID_CHARS)
        try:
            raw = self._read(lambda: self.exchange.cancel_order(None, symbol, {"origClientOrderId": venue_cid}), "cancel")
            return self._to_domain(raw, client_order_id)
        except OrderNotFound:
            current = self.get_order(client_order_id)  # -2011 also means "already filled or canceled"
            if current.status.is_terminal:
                return current
            raise

    def replace(self, client_order_id: str, *, quantity: float | None = None, limit_price: float | None = None, stop_price: float | None = None) -> Order:
        """Amend an order by cancel + new under the same client ID (Binance IDs are unique among open orders only)."""
        old = self.cancel(client_order_id)
        if old.status is OrderStatus.FILLED:
            return old
        new = old.evolve(
            quantity=(quantity if quantity is not None else old.quantity) - old.filled_quantity,
            limit_price=limit_price if limit_price is not None else old.limit_price,
            stop_price=stop_price if stop_price is not None else old.stop_price,
            status=OrderStatus.NEW, filled_quantity=0.0, avg_fill_price=None, broker_order_id=None,
        )
        # The client ID now names a canceled order at Binance, so a check-first lookup would find that one.
        return self._submit(new, check_first=False)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return open orders (all symbols when ``symbol`` is None)."""
        self._markets()
        sym = self.normalize(symbol) if symbol else None
        return [self._to_domain(r) for r in self._read(lambda: self.exchange.fetch_open_orders(sym), "open_orders")]

    # -- account -------------------------------------------------------------------------
    def fills(self, since_client_order_id: str | None = None, *, since: datetime | None = None) -> list[Fill]:
        """Return fills of every known symbol, oldest first (from the given order's first fill on, if any).

        Each symbol's latest 500 trades: a bounded call; ``since`` filters here (``startTime`` gives only 24 hours).
        """
        self._markets()
        out: list[Fill] = []
        for symbol in sorted(self._symbols):
            for t in self._read(lambda s=symbol: self.exchange.fetch_my_trades(s), "fills"):
                oid = str(t["order"])
                if oid not in self._cid_of_oid:
                    self._to_domain(self._read(lambda o=oid, s=symbol: self.exchange.fetch_order(o, s), "fill order"))
                out.append(fill_from_wire(t, client_order_id=self._cid_of_oid[oid], symbol=symbol, venue=self.name))
        return fills_since(out, since_client_order_id, since)

    def balances(self) -> list[Balance]:
        """Return every asset balance with a non-zero total."""
        raw = self._read(self.exchange.fetch_balance, "balances")
        return [Balance(a, float(raw["free"].get(a) or 0.0), float(v or 0.0)) for a, v in sorted(raw["total"].items()) if v]

    def positions(self) -> list[Position]:
        """Return spot holdings as long positions against the quote currency, at their average buy price."""
        held = {b.currency: b.total for b in self.balances() if b.currency != self.quote and b.total > 0}
        if not held:
            return []
        for asset in held:
            self._symbols.add(f"{asset}/{self.quote}")
        cost: dict[str, list[float]] = {}
        for f in self.fills():
            if f.side is Side.BUY:
                acc = cost.setdefault(f.symbol, [0.0, 0.0])
                acc[0] += f.quantity * f.price
                acc[1] += f.quantity
        out = []
        for asset, qty in sorted(held.items()):
            sym = f"{asset}/{self.quote}"
            notional, bought = cost.get(sym, [0.0, 0.0])
            out.append(Position(symbol=sym, quantity=qty, avg_price=notional / bought if bought else 0.0))
        return out

    # -- market data ----------------------------------------------------------------------
    def top_of_book_depth(self, symbol: str) -> float:
        """Return the quote-currency notional at the best bid plus best ask (a liquidity measure for the router)."""
        self._markets()
        book = self._read(lambda: self.exchange.fetch_order_book(self.normalize(symbol), 5), "order_book")
        bid, ask = (book["bids"] or [[0, 0]])[0], (book["asks"] or [[0, 0]])[0]
        return float(bid[0]) * float(bid[1]) + float(ask[0]) * float(ask[1])

    def bars(self, symbol: str, timeframe: str = "1m", limit: int = 100) -> list[list[float]]:
        """Return klines as ``[ms, open, high, low, close, volume]`` rows (ccxt's OHLCV form)."""
        self._markets()
        return self._read(lambda: self.exchange.fetch_ohlcv(self.normalize(symbol), timeframe, limit=limit), "bars")
