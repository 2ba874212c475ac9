"""Alpaca through alpaca-py: paper account by default, live only when confirmed.

Native: market, limit, stop, stop-limit, trailing stop; bracket and OCO order
classes (ask for them with ``order.tags``: ``take_profit`` and ``stop_loss``
prices, optional ``stop_loss_limit``, and ``order_class="oco"`` for an OCO
exit). ``client_order_id`` is the idempotency key. alpaca-py's own 429/504
retry (3 s sleeps, no ``Retry-After``) is switched off and its missing HTTP
timeout added, so :mod:`core.brokers.retry` alone decides; a token bucket keeps
us under Alpaca's 200 requests per minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, QueryOrderStatus
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)
from pydantic import SecretStr

from core.brokers._venue import TimeoutSession, fills_since, guard_live, is_live_endpoint, map_requests_error, plain, retry_after_seconds, venue_client_id
from core.brokers.base import Balance, BrokerError, Capabilities, InsufficientFunds, OrderNotFound, OrderRejected, RetryableBrokerError
from core.brokers.retry import RetryPolicy, TokenBucket, call_with_retry, submit_idempotent
from core.domain import AssetClass, Fill, Order, OrderStatus, OrderType, Position, Side, TimeInForce

log = logging.getLogger("core.brokers.alpaca")

_STATUS = {
    "partially_filled": OrderStatus.PARTIALLY_FILLED, "filled": OrderStatus.FILLED, "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED, "done_for_day": OrderStatus.EXPIRED, "rejected": OrderStatus.REJECTED,
}
_PAGE = 100  # Alpaca's largest page of account activities
_REPLACED = "~r"  # suffix of the client ID given to a replacement order


def map_alpaca_error(exc: Exception, venue: str = "alpaca") -> BrokerError:
    """Map an alpaca-py or ``requests`` exception onto the broker error classes."""
    if isinstance(exc, requests.RequestException):
        return map_requests_error(exc, venue)
    if not isinstance(exc, APIError):
        return BrokerError(f"{venue}: {exc}")
    status = exc.status_code or 0
    try:
        message = exc.message
    except (ValueError, KeyError, TypeError):
        message = str(exc)[:200]
    text = f"{venue}: {status} {message}"
    if status == 429 or status >= 500:
        headers = exc.response.headers if exc.response is not None else {}
        return RetryableBrokerError(text, retry_after=retry_after_seconds(headers.get("Retry-After")))
    if status == 404:
        return OrderNotFound(text)
    if status in (401,):
        return BrokerError(f"{venue}: the API key was refused; check ALPACA key/secret and paper setting ({status})")
    if status == 403 and "insufficient" in message.lower():
        return InsufficientFunds(text)
    return OrderRejected(text)


def _f(x: Any) -> float | None:
    return None if x is None or x == "" else float(x)


PAPER_URL, LIVE_URL = "https://paper-api.alpaca.markets", "https://api.alpaca.markets"
#: Alpaca's paper-trading host; every other non-loopback trading host is live.
PAPER_HOSTS = ("paper-api.alpaca.markets",)


class AlpacaBroker:
    """The Alpaca adapter (implements :class:`core.brokers.base.Broker`).

    Parameters
    ----------
    api_key, api_secret
        Credentials (``SecretStr``), from the environment or ``.env`` only.
    paper
        Trade the paper account (default). ``False`` is live trading and needs ``allow_live``;
        so does a ``base_url`` that is neither loopback nor the paper host, whatever this flag says.
    base_url, data_url
        Point the trading and market-data clients elsewhere (``url_override``), e.g. a local fake.
    rate, burst
        Token bucket: average requests per second and burst size.
    """

    name = "alpaca"

    def __init__(self, api_key: SecretStr | str, api_secret: SecretStr | str, *, paper: bool = True, allow_live: bool = False,
                 base_url: str | None = None, data_url: str | None = None, timeout: float = 10.0, policy: RetryPolicy | None = None,
                 rate: float = 3.0, burst: float = 10.0, sleep: Callable[[float], None] = time.sleep, name: str | None = None) -> None:
        # Live is decided by where orders would go, not by the paper flag (a live base URL is live).
        endpoint = base_url or (PAPER_URL if paper else LIVE_URL)
        live = is_live_endpoint([endpoint], PAPER_HOSTS)
        guard_live("alpaca", live=live, allow_live=allow_live)
        self.name = name or ("alpaca" if live or not paper else "alpaca-paper")
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self.bucket = TokenBucket(rate, burst, sleep=sleep)
        self.client = TradingClient(plain(api_key), plain(api_secret), paper=paper, url_override=base_url)
        self.data = StockHistoricalDataClient(plain(api_key), plain(api_secret), url_override=data_url or base_url)
        for c in (self.client, self.data):
            c._retry = 0  # our retry honours Retry-After and never resends an order blindly
            c._session = TimeoutSession(timeout)
        self._cid_of_oid: dict[str, str] = {}

    # -- plumbing ---------------------------------------------------------------------
    def _call(self, fn: Callable[[], Any]) -> Any:
        self.bucket.acquire()
        try:
            return fn()
        except (APIError, requests.RequestException) as exc:
            raise map_alpaca_error(exc, self.name) from None

    def _read(self, fn: Callable[[], Any], what: str) -> Any:
        return call_with_retry(lambda: self._call(fn), self.policy, what=f"{self.name} {what}", sleep=self._sleep)

    def capabilities(self) -> Capabilities:
        """Return Alpaca's native order types, TIFs and order classes (commission-free equities)."""
        return Capabilities(
            order_types=frozenset(OrderType), time_in_force=frozenset(TimeInForce),
            asset_classes=frozenset({AssetClass.EQUITY}), oco=True, bracket=True, shorting=True, fractional=True,
            maker_fee=0.0, taker_fee=0.0,
            extra={"bracket_tags": ["take_profit", "stop_loss", "stop_loss_limit"], "oco_tag": {"order_class": "oco"}, "client_id_max": 128,
                   "tick_size": 0.01, "lot_size": 1.0},
        )

    # -- mapping -------------------------------------------------------------------------
    @staticmethod
    def _base_cid(venue_cid: str) -> str:
        return venue_cid.split(_REPLACED, 1)[0]

    def _to_domain(self, o: Any, cid: str | None = None, parent: str | None = None, role: str | None = None) -> Order:
        oid = str(o.id)
        cid = cid or self._cid_of_oid.get(oid) or (f"{parent}:{role}" if parent and role else self._base_cid(o.client_order_id))
        self._cid_of_oid[oid] = cid
        status = o.status.value if hasattr(o.status, "value") else str(o.status)
        typ = (o.order_type or o.type).value
        return Order(
            client_order_id=cid, symbol=o.symbol, side=Side(o.side.value), quantity=float(o.qty or 0), order_type=OrderType(typ),
            limit_price=_f(o.limit_price), stop_price=_f(o.stop_price), trail_amount=_f(o.trail_price), trail_percent=_f(o.trail_percent),
            time_in_force=TimeInForce(o.time_in_force.value) if o.time_in_force.value in TimeInForce._value2member_map_ else TimeInForce.DAY,
            status=_STATUS.get(status, OrderStatus.ACCEPTED), filled_quantity=float(o.filled_qty or 0), avg_fill_price=_f(o.filled_avg_price),
            created_at=o.created_at, updated_at=o.updated_at, broker_order_id=oid, parent_id=parent, venue=self.name,
            oco_group=parent if o.order_class.value in ("bracket", "oco") and parent else None,
            tags={"order_class": o.order_class.value, **({"role": role} if role else {})},
        )

    def _with_legs(self, o: Any, cid: str | None = None) -> list[Order]:
        top = self._to_domain(o, cid)
        out = [top]
        for leg in o.legs or []:
            role = "take_profit" if leg.order_type.value == "limit" else "stop_loss"
            out.append(self._to_domain(leg, parent=top.client_order_id, role=role))
        return out

    def _request(self, order: Order, venue_cid: str) -> Any:
        common: dict[str, Any] = {"symbol": order.symbol, "qty": order.quantity, "side": order.side.value,
                                  "time_in_force": order.time_in_force.value, "client_order_id": venue_cid}
        tags = order.tags or {}
        if "take_profit" in tags and "stop_loss" in tags:
            common["order_class"] = OrderClass.OCO if tags.get("order_class") == "oco" else OrderClass.BRACKET
            common["take_profit"] = TakeProfitRequest(limit_price=float(tags["take_profit"]))
            sl = {"stop_price": float(tags["stop_loss"])}
            if tags.get("stop_loss_limit") is not None:
                sl["limit_price"] = float(tags["stop_loss_limit"])
            common["stop_loss"] = StopLossRequest(**sl)
            if common["order_class"] == OrderClass.OCO:
                return LimitOrderRequest(**common)
        t = order.order_type
        try:
            if t is OrderType.MARKET:
                return MarketOrderRequest(**common)
            if t is OrderType.LIMIT:
                return LimitOrderRequest(limit_price=order.limit_price, **common)
            if t is OrderType.STOP:
                return StopOrderRequest(stop_price=order.stop_price, **common)
            if t is OrderType.STOP_LIMIT:
                return StopLimitOrderRequest(stop_price=order.stop_price, limit_price=order.limit_price, **common)
            return TrailingStopOrderRequest(trail_price=order.trail_amount, trail_percent=order.trail_percent, **common)
        except ValueError as exc:  # alpaca-py validates locally (pydantic): missing price, both trail kinds...
            raise OrderRejected(f"{self.name}: invalid {t} order {order.client_order_id}: {exc}") from None

    # -- orders ------------------------------------------------------------------------------
    def submit(self, order: Order) -> Order:
        """Send ``order`` (with bracket/OCO legs when its tags ask); idempotent on its client ID."""
        venue_cid = venue_client_id(order.client_order_id, 128, r"A-Za-z0-9._:\-")
        req = self._request(order, venue_cid)

        def send(o: Order) -> Order:
            try:
                placed = self._call(lambda: self.client.submit_order(req))
            except OrderRejected as exc:
                if "client_order_id must be unique" not in str(exc):
                    raise
                return self._lookup(o.client_order_id)  # an earlier attempt landed after all
            return self._with_legs(placed, o.client_order_id)[0]

        placed = submit_idempotent(order, send, self._lookup, self.policy, sleep=self._sleep)
        log.info("%s accepted %s %s %s %s (%s)", self.name, placed.client_order_id, placed.side, placed.quantity, placed.symbol, placed.status)
        return placed

    def _raw_by_cid(self, cid: str) -> Any:
        venue_cid = venue_client_id(cid, 128, r"A-Za-z0-9._:\-")
        o = self._call(lambda: self.client.get_order_by_client_id(venue_cid))
        while o.replaced_by is not None:  # follow the chain of replacements to the live order
            o = self._call(lambda rid=o.replaced_by: self.client.get_order_by_id(rid))
        return o

    def _lookup(self, cid: str) -> Order:
        return self._to_domain(self._raw_by_cid(cid), cid)

    def get_order(self, client_order_id: str) -> Order:
        """Return the venue's view of one order (following replacements)."""
        if ":" in client_order_id and client_order_id.rsplit(":", 1)[1] in ("take_profit", "stop_loss"):
            parent, role = client_order_id.rsplit(":", 1)
            legs = self._read(lambda: self._with_legs(self._raw_by_cid(parent), parent), "get_order")
            for leg in legs[1:]:
                if leg.tags.get("role") == role:
                    return leg
            raise OrderNotFound(f"{self.name}: order {parent} has no {role} leg")
        return self._read(lambda: self._lookup(client_order_id), "get_order")

    def cancel(self, client_order_id: str) -> Order:
        """Cancel an open order (and its legs) and return its final state."""
        o = self._read(lambda: self._raw_by_cid(client_order_id), "cancel lookup")
        try:
            self._read(lambda: self.client.cancel_order_by_id(o.id), "cancel")
        except OrderRejected:
            pass  # 422 "not cancelable": it is already final; the state below says which
        return self.get_order(client_order_id)

    def replace(self, client_order_id: str, *, quantity: float | None = None, limit_price: float | None = None, stop_price: float | None = None) -> Order:
        """Amend an open order (Alpaca's replace creates a new order; it keeps our client ID here)."""
        o = self._read(lambda: self._raw_by_cid(client_order_id), "replace lookup")
        base = venue_client_id(client_order_id, 120, r"A-Za-z0-9._:\-")
        # Alpaca client IDs are unique over all orders, so the replacement gets a derived one.
        new_cid = f"{base}{_REPLACED}{o.id.hex[:6]}"
        req = ReplaceOrderRequest(qty=int(quantity) if quantity is not None else None, limit_price=limit_price, stop_price=stop_price, client_order_id=new_cid)
        new = self._call(lambda: self.client.replace_order_by_id(o.id, req))
        return self._to_domain(new, client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return open orders with their legs."""
        flt = GetOrdersRequest(status=QueryOrderStatus.OPEN, nested=True, symbols=[symbol] if symbol else None)
        out: list[Order] = []
        for o in self._read(lambda: self.client.get_orders(flt), "open_orders"):
            out += [x for x in self._with_legs(o) if not x.status.is_terminal]
        return out

    # -- account --------------------------------------------------------------------------------
    def _fill_activities(self, since: datetime | None) -> list[dict[str, Any]]:
        """Return the FILL activities (from ``since`` on), oldest first, every page of them.

        Alpaca pages activities 100 at a time (``page_token`` = the last ID of the page); one
        page from the beginning would stop seeing fills after the account's hundredth.
        """
        query: dict[str, Any] = {"direction": "asc", "page_size": _PAGE}
        if since is not None:  # ``after`` is exclusive: ask from a second earlier, fills are de-duplicated by ID
            query["after"] = (since - timedelta(seconds=1)).astimezone(UTC).isoformat().replace("+00:00", "Z")
        rows: list[dict[str, Any]] = []
        while True:
            page = self._read(lambda q=dict(query): self.client.get("/account/activities/FILL", q), "fills")
            rows += page
            if len(page) < _PAGE:
                return rows
            query["page_token"] = page[-1]["id"]

    def fills(self, since_client_order_id: str | None = None, *, since: datetime | None = None) -> list[Fill]:
        """Return fills from the account activities (FILL), oldest first."""
        rows = self._fill_activities(since)
        out: list[Fill] = []
        for a in rows:
            oid = a["order_id"]
            if oid not in self._cid_of_oid:
                self._to_domain(self._read(lambda i=oid: self.client.get_order_by_id(i), "fill order"))
            out.append(Fill(
                fill_id=f"{self.name}:{a['id']}", client_order_id=self._cid_of_oid[oid], symbol=a["symbol"], side=Side(a["side"]),
                quantity=float(a["qty"]), price=float(a["price"]), fee=0.0, ts=datetime.fromisoformat(a["transaction_time"].replace("Z", "+00:00")),
                venue=self.name,
            ))
        return fills_since(out, since_client_order_id, since)

    def positions(self) -> list[Position]:
        """Return open positions (short ones negative)."""
        return [
            Position(symbol=p.symbol, quantity=float(p.qty), avg_price=float(p.avg_entry_price), last_price=_f(p.current_price))
            for p in self._read(self.client.get_all_positions, "positions")
        ]

    def balances(self) -> list[Balance]:
        """Return the account's cash: ``free`` is buying power, ``total`` is cash."""
        a = self._read(self.client.get_account, "account")
        return [Balance(a.currency or "USD", float(a.buying_power or 0), float(a.cash or 0))]

    # -- market data --------------------------------------------------------------------------------
    def bars(self, symbol: str, start: datetime, limit: int = 100) -> pd.DataFrame:
        """Return daily bars as a frame with a UTC ``ts`` index and float OHLCV columns."""
        req = StockBarsRequest(symbol_or_symbols=symbol, timeframe=TimeFrame.Day, start=start, limit=limit)
        barset = self._read(lambda: self.data.get_stock_bars(req), "bars")
        rows = barset.data.get(symbol, [])
        frame = pd.DataFrame(
            {"open": [b.open for b in rows], "high": [b.high for b in rows], "low": [b.low for b in rows],
             "close": [b.close for b in rows], "volume": [b.volume for b in rows]},
            index=pd.DatetimeIndex([pd.Timestamp(b.timestamp).tz_convert("UTC") for b in rows], name="ts"),
        )
        return frame.astype(float)

    def average_volume(self, symbol: str, start: datetime, days: int = 20) -> float:
        """Return the mean daily dollar volume (a liquidity measure for the router)."""
        frame = self.bars(symbol, start, limit=days)
        return float((frame["close"] * frame["volume"]).mean()) if len(frame) else 0.0
