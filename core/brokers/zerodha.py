"""Zerodha (NSE/BSE equities) through the official ``kiteconnect`` client.

Native: MARKET, LIMIT, SL (stop-limit), SL-M (stop); DAY and IOC validity; GTT
two-leg triggers as OCO (ask with ``order.tags``: ``take_profit`` and
``stop_loss`` prices and ``order_class="oco"``). The order ``tag`` (at most 20
alphanumerics) carries our client ID for idempotency. Zerodha has no
testnet: every real connection is live and needs ``allow_live``.

Login flow (once a day; tokens expire at 06:00 IST): open
:meth:`ZerodhaBroker.login_url`, log in, copy the ``request_token`` from the
redirect, then :meth:`ZerodhaBroker.exchange_request_token` returns the
``access_token`` to put in ``APP__BROKERS__ZERODHA__ACCESS_TOKEN`` (see docs/brokers.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex
from pydantic import SecretStr

from core.brokers._venue import fills_since, guard_live, is_live_endpoint, map_requests_error, plain, retry_after_seconds, venue_client_id
from core.brokers.base import (
    AuthenticationError,
    Balance,
    BrokerError,
    Capabilities,
    InsufficientFunds,
    OrderNotFound,
    OrderRejected,
    RetryableBrokerError,
)
from core.brokers.retry import RetryPolicy, TokenBucket, call_with_retry, submit_idempotent
from core.domain import AssetClass, Fill, Order, OrderStatus, OrderType, Position, Side, TimeInForce

log = logging.getLogger("core.brokers.zerodha")
IST = ZoneInfo("Asia/Kolkata")

_STATUS = {"COMPLETE": OrderStatus.FILLED, "CANCELLED": OrderStatus.CANCELED, "REJECTED": OrderStatus.REJECTED}
_TYPES = {"MARKET": OrderType.MARKET, "LIMIT": OrderType.LIMIT, "SL": OrderType.STOP_LIMIT, "SL-M": OrderType.STOP}
_KITE_TYPE = {v: k for k, v in _TYPES.items()}
_GTT_PREFIX = "gtt:"
RENEW_TOKEN = ("the access token was refused or has expired (tokens expire daily at 06:00 IST): redo the Kite login flow "
               "(docs/brokers.md) and set the new APP__BROKERS__ZERODHA__ACCESS_TOKEN")


def map_kite_error(exc: Exception, venue: str = "zerodha") -> BrokerError:
    """Map a kiteconnect or ``requests`` exception onto the broker error classes."""
    if isinstance(exc, requests.RequestException):
        return map_requests_error(exc, venue)
    code = getattr(exc, "code", 0) or 0
    text = f"{venue}: {exc}"
    if code == 429 or code >= 500 or isinstance(exc, kex.NetworkException):
        return RetryableBrokerError(text)
    if isinstance(exc, kex.TokenException) or code == 401:
        return AuthenticationError(f"{venue}: {RENEW_TOKEN}")
    message = str(exc).lower()
    if "couldn't find" in message or "invalid trigger id" in message:
        return OrderNotFound(text)
    if "margin" in message or "insufficient" in message or "funds" in message:
        return InsufficientFunds(text)
    if isinstance(exc, kex.KiteException):
        return OrderRejected(text)
    return BrokerError(text)


def _ist(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    return value.replace(tzinfo=IST).astimezone(UTC) if value.tzinfo is None else value


class ZerodhaBroker:
    """The Zerodha Kite adapter (implements :class:`core.brokers.base.Broker`).

    Parameters
    ----------
    api_key, access_token
        From the Kite developer console and the daily login flow (``SecretStr``).
    allow_live
        Zerodha has no paper endpoint, so a real connection needs this True
        (``mode: live`` and ``live_confirmed: true``); a loopback ``root`` (a local fake) does not.
    root
        API root (host and port only; kiteconnect drops any path).
    exchange, product
        Defaults for plain symbols (``INFY`` means ``NSE:INFY``) and the product (``CNC`` delivery, ``MIS`` intraday).
    """

    name = "zerodha"

    def __init__(self, api_key: SecretStr | str, access_token: SecretStr | str | None = None, *, api_secret: SecretStr | str | None = None,
                 allow_live: bool = False, root: str | None = None, timeout: float = 7.0, policy: RetryPolicy | None = None,
                 exchange: str = "NSE", product: str = "CNC", rate: float = 8.0, burst: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep, name: str | None = None) -> None:
        guard_live("zerodha", live=is_live_endpoint([root or KiteConnect._default_root_uri]), allow_live=allow_live)
        self.name = name or "zerodha"
        self.policy = policy or RetryPolicy()
        self.exchange, self.product = exchange, product
        self._sleep = sleep
        self._secret = api_secret
        self.bucket = TokenBucket(rate, burst, sleep=sleep)
        self.kite = KiteConnect(plain(api_key), access_token=plain(access_token), root=root, timeout=timeout)
        self._retry_after: str | None = None
        self._last_status = 0
        # kiteconnect's exceptions carry no headers; keep Retry-After (and the status) from the last response.
        self.kite.reqsession.hooks["response"].append(self._remember_retry_after)
        self._cid_of_tag: dict[str, str] = {}
        self._cid_of_oid: dict[str, str] = {}
        self._gtt_of_cid: dict[str, int] = {}

    # -- login ---------------------------------------------------------------------------------
    def login_url(self) -> str:
        """Return the Kite login page URL (step 1 of the daily login flow)."""
        return self.kite.login_url()

    def exchange_request_token(self, request_token: str) -> SecretStr:
        """Trade the ``request_token`` from the login redirect for an access token (step 2); use it from now on."""
        if self._secret is None:
            raise BrokerError("zerodha: the API secret is needed for the login flow; set APP__BROKERS__ZERODHA__API_SECRET")
        data = self._call(lambda: self.kite.generate_session(request_token, api_secret=plain(self._secret)))
        self.kite.set_access_token(data["access_token"])
        return SecretStr(data["access_token"])

    # -- plumbing --------------------------------------------------------------------------------
    def _remember_retry_after(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._retry_after = response.headers.get("Retry-After")
        self._last_status = response.status_code

    def _call(self, fn: Callable[[], Any]) -> Any:
        self.bucket.acquire()
        self._retry_after = None
        self._last_status = 0
        try:
            return fn()
        except (kex.KiteException, requests.RequestException) as exc:
            if self._last_status == 401 and not isinstance(exc, requests.RequestException):
                raise AuthenticationError(f"{self.name}: HTTP {self._last_status}: {RENEW_TOKEN}") from None
            err = map_kite_error(exc, self.name)
            if isinstance(err, RetryableBrokerError) and err.retry_after is None:
                err.retry_after = retry_after_seconds(self._retry_after)
            raise err from None
        except (KeyError, TypeError) as exc:
            # kiteconnect reads reply["data"] blindly: a gateway's 401 body without it surfaces as KeyError('data').
            status = self._last_status
            if status in (401, 403):
                raise AuthenticationError(f"{self.name}: HTTP {status}: {RENEW_TOKEN}") from None
            if status == 429 or status >= 500:
                raise RetryableBrokerError(f"{self.name}: HTTP {status} with an unexpected reply ({type(exc).__name__})",
                                           retry_after_seconds(self._retry_after)) from None
            raise BrokerError(f"{self.name}: unexpected reply (HTTP {status or '?'}, {type(exc).__name__}: {exc}); the API may have changed") from None

    def _read(self, fn: Callable[[], Any], what: str) -> Any:
        return call_with_retry(lambda: self._call(fn), self.policy, what=f"{self.name} {what}", sleep=self._sleep)

    def _split(self, symbol: str) -> tuple[str, str]:
        exch, _, sym = symbol.rpartition(":")
        return (exch or self.exchange), sym

    def _symbol(self, exchange: str, tradingsymbol: str) -> str:
        return tradingsymbol if exchange == self.exchange else f"{exchange}:{tradingsymbol}"

    def capabilities(self) -> Capabilities:
        """Return Kite's native order types and validities; OCO through GTT two-leg triggers."""
        return Capabilities(
            order_types=frozenset(_TYPES.values()), time_in_force=frozenset({TimeInForce.DAY, TimeInForce.IOC}),
            asset_classes=frozenset({AssetClass.EQUITY}), oco=True, bracket=False, shorting=False, fractional=False,
            maker_fee=0.0003, taker_fee=0.0003,
            extra={"oco": "gtt two-leg via tags take_profit/stop_loss, order_class=oco", "client_id": "tag, 20 alphanumerics (hashed if longer)",
                   "tick_size": 0.05, "lot_size": 1.0, "currency": "INR", "rate_limit_per_s": 10},
        )

    # -- mapping -------------------------------------------------------------------------------
    def _to_domain(self, o: dict[str, Any], cid: str | None = None) -> Order:
        oid = str(o["order_id"])
        tag = o.get("tag") or ""
        cid = cid or self._cid_of_oid.get(oid) or self._cid_of_tag.get(tag) or tag or oid
        self._cid_of_oid[oid] = cid
        status = o["status"]
        filled = float(o.get("filled_quantity") or 0)
        dom_status = _STATUS.get(status) or (OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACCEPTED)
        typ = _TYPES.get(o["order_type"], OrderType.LIMIT)
        return Order(
            client_order_id=cid, symbol=self._symbol(o["exchange"], o["tradingsymbol"]), side=Side(o["transaction_type"].lower()),
            quantity=float(o["quantity"]), order_type=typ,
            limit_price=float(o["price"]) if typ in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
            stop_price=float(o["trigger_price"]) if typ in (OrderType.STOP, OrderType.STOP_LIMIT) else None,
            time_in_force=TimeInForce.IOC if o.get("validity") == "IOC" else TimeInForce.DAY, status=dom_status,
            filled_quantity=filled, avg_fill_price=float(o["average_price"]) if filled else None,
            created_at=_ist(o.get("order_timestamp")), updated_at=_ist(o.get("exchange_update_timestamp") or o.get("order_timestamp")),
            broker_order_id=oid, venue=self.name, reason=o.get("status_message"), tags={"tag": tag, "product": o.get("product")},
        )

    def _tag(self, cid: str) -> str:
        tag = venue_client_id(cid, 20)
        self._cid_of_tag[tag] = cid
        return tag

    # -- orders -------------------------------------------------------------------------------------
    def submit(self, order: Order) -> Order:
        """Place ``order`` (a GTT two-leg when its tags ask for OCO); idempotent on its client ID through the tag."""
        tags = order.tags or {}
        if tags.get("order_class") == "oco" and "take_profit" in tags and "stop_loss" in tags:
            return self._submit_gtt(order)
        if order.order_type not in _KITE_TYPE:
            raise OrderRejected(f"{self.name}: {order.order_type} is not native at Kite; let the order manager emulate it")
        if order.time_in_force not in (TimeInForce.DAY, TimeInForce.IOC):
            raise OrderRejected(f"{self.name}: Kite validity is DAY or IOC (use a GTT for longer-lived orders), got {order.time_in_force}")
        exch, sym = self._split(order.symbol)
        tag = self._tag(order.client_order_id)

        def send(o: Order) -> Order:
            oid = self._call(lambda: self.kite.place_order(
                variety=self.kite.VARIETY_REGULAR, exchange=exch, tradingsymbol=sym, transaction_type=o.side.value.upper(),
                quantity=int(o.quantity), product=self.product, order_type=_KITE_TYPE[o.order_type],
                price=o.limit_price if o.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
                trigger_price=o.stop_price if o.order_type in (OrderType.STOP, OrderType.STOP_LIMIT) else None,
                validity=o.time_in_force.value.upper(), tag=tag,
            ))
            self._cid_of_oid[str(oid)] = o.client_order_id
            # The reply is only an ID; the order's state (an RMS rejection, say) comes from its history.
            return self._read(lambda: self._history(str(oid), o.client_order_id), "order history")

        placed = submit_idempotent(order, send, self._lookup, self.policy, sleep=self._sleep, check_first=True)
        if placed.status is OrderStatus.REJECTED:
            err = map_kite_error(kex.OrderException(placed.reason or "rejected", code=400), self.name)
            raise err if isinstance(err, OrderRejected) else OrderRejected(str(err))
        log.info("%s accepted %s %s %s %s (%s)", self.name, placed.client_order_id, placed.side, placed.quantity, placed.symbol, placed.status)
        return placed

    def _history(self, oid: str, cid: str | None = None) -> Order:
        return self._to_domain(self._call(lambda: self.kite.order_history(oid))[-1], cid)

    def _lookup(self, cid: str) -> Order:
        if cid in self._gtt_of_cid or cid.startswith(_GTT_PREFIX):
            return self._gtt_order(cid)
        tag = self._tag(cid)
        matches = [o for o in self._call(self.kite.orders) if o.get("tag") == tag]
        if not matches:
            raise OrderNotFound(f"{self.name}: no order tagged {tag} (client ID {cid})")
        return self._to_domain(matches[-1], cid)

    def get_order(self, client_order_id: str) -> Order:
        """Return the venue's view of one order (or GTT)."""
        return self._read(lambda: self._lookup(client_order_id), "get_order")

    def cancel(self, client_order_id: str) -> Order:
        """Cancel an open order (or delete a GTT) and return its final state."""
        current = self.get_order(client_order_id)
        if current.status.is_terminal:
            return current
        if current.broker_order_id and current.broker_order_id.startswith(_GTT_PREFIX):
            self._read(lambda: self.kite.delete_gtt(int(current.broker_order_id[len(_GTT_PREFIX):])), "delete gtt")
        else:
            try:
                self._read(lambda: self.kite.cancel_order(self.kite.VARIETY_REGULAR, current.broker_order_id), "cancel")
            except OrderRejected:
                pass  # "being processed": it just filled or was cancelled; the state below says which
        return self.get_order(client_order_id)

    def replace(self, client_order_id: str, *, quantity: float | None = None, limit_price: float | None = None, stop_price: float | None = None) -> Order:
        """Modify an open order in place (Kite keeps the order ID)."""
        current = self.get_order(client_order_id)
        self._read(lambda: self.kite.modify_order(
            self.kite.VARIETY_REGULAR, current.broker_order_id, quantity=int(quantity) if quantity is not None else None,
            price=limit_price, trigger_price=stop_price,
        ), "modify")
        return self.get_order(client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return open orders and active GTTs."""
        out = [self._to_domain(o) for o in self._read(self.kite.orders, "orders")]
        out += [self._gtt_to_domain(g) for g in self._read(self.kite.get_gtts, "gtts") if g["status"] == "active"]
        return [o for o in out if not o.status.is_terminal and (symbol is None or o.symbol == symbol)]

    # -- GTT (OCO) ------------------------------------------------------------------------------------
    def _submit_gtt(self, order: Order) -> Order:
        exch, sym = self._split(order.symbol)
        stop, target = float(order.tags["stop_loss"]), float(order.tags["take_profit"])
        # Each leg is a LIMIT order placed when its trigger is hit; the stop leg may carry a worse limit to make sure it fills.
        prices = {stop: float(order.tags.get("stop_loss_limit") or stop), target: target}
        lo, hi = sorted([stop, target])
        last = float(order.tags.get("last_price") or (lo + hi) / 2)
        leg = {"transaction_type": order.side.value.upper(), "quantity": int(order.quantity), "order_type": "LIMIT", "product": self.product}

        def send(o: Order) -> Order:
            res = self._call(lambda: self.kite.place_gtt(self.kite.GTT_TYPE_OCO, sym, exch, [lo, hi], last,
                                                         [{**leg, "price": prices[lo]}, {**leg, "price": prices[hi]}]))
            self._gtt_of_cid[o.client_order_id] = int(res["trigger_id"])
            return self._gtt_order(o.client_order_id)

        def lookup(cid: str) -> Order:
            # GTTs carry no tag: the same symbol, triggers and quantity identify ours.
            for g in self._call(self.kite.get_gtts):
                c = g["condition"]
                if (c["tradingsymbol"] == sym and [float(v) for v in c["trigger_values"]] == [lo, hi] and g["status"] in ("active", "triggered")
                        and int(g["orders"][0]["quantity"]) == int(order.quantity)):
                    self._gtt_of_cid[cid] = int(g["id"])
                    return self._gtt_to_domain(g, cid)
            raise OrderNotFound(f"{self.name}: no GTT for {cid}")

        return submit_idempotent(order, send, lookup, self.policy, sleep=self._sleep, check_first=True)

    def _gtt_order(self, cid: str) -> Order:
        gid = self._gtt_of_cid.get(cid) or int(cid[len(_GTT_PREFIX):])
        return self._gtt_to_domain(self._call(lambda: self.kite.get_gtt(gid)), cid)

    def _gtt_to_domain(self, g: dict[str, Any], cid: str | None = None) -> Order:
        gid = int(g["id"])
        cid = cid or next((c for c, i in self._gtt_of_cid.items() if i == gid), f"{_GTT_PREFIX}{gid}")
        c, legs = g["condition"], g["orders"]
        status = {"active": OrderStatus.ACCEPTED, "triggered": OrderStatus.FILLED, "deleted": OrderStatus.CANCELED,
                  "cancelled": OrderStatus.CANCELED, "expired": OrderStatus.EXPIRED, "rejected": OrderStatus.REJECTED}.get(g["status"], OrderStatus.ACCEPTED)
        lo, hi = (float(v) for v in c["trigger_values"])
        filled, avg, reason = 0.0, None, None
        roles = ("stop_loss", "take_profit") if legs[0]["transaction_type"] == "SELL" else ("take_profit", "stop_loss")
        stop, target = (lo, hi) if roles[0] == "stop_loss" else (hi, lo)
        for role, leg in zip(roles, legs, strict=False):
            placed = ((leg.get("result") or {}).get("order_result") or {}).get("order_id")
            if placed:
                # The triggered leg is an ordinary order from here on; report it under a derived client ID.
                self._cid_of_oid[str(placed)] = f"{cid}:{role}"
                filled, avg, reason = float(leg["quantity"]), float(leg["price"]), f"triggered {role}: order {placed}"
        return Order(
            client_order_id=cid, symbol=self._symbol(c["exchange"], c["tradingsymbol"]), side=Side(legs[0]["transaction_type"].lower()),
            quantity=float(legs[0]["quantity"]), order_type=OrderType.LIMIT, limit_price=target, stop_price=stop, time_in_force=TimeInForce.GTC,
            status=status, filled_quantity=filled, avg_fill_price=avg, reason=reason, created_at=_ist(g.get("created_at")),
            updated_at=_ist(g.get("updated_at")), broker_order_id=f"{_GTT_PREFIX}{gid}",
            venue=self.name, oco_group=f"{_GTT_PREFIX}{gid}", tags={"order_class": "oco", "stop_loss": stop, "take_profit": target},
        )

    # -- account -------------------------------------------------------------------------------------
    def fills(self, since_client_order_id: str | None = None, *, since: datetime | None = None) -> list[Fill]:
        """Return today's trades (Kite keeps the trade book for the day), oldest first."""
        trades = self._read(self.kite.trades, "trades")
        unknown = {str(t["order_id"]) for t in trades} - set(self._cid_of_oid)
        if unknown:
            for g in self._read(self.kite.get_gtts, "gtts"):
                self._gtt_to_domain(g)
            for o in self._read(self.kite.orders, "orders"):
                if str(o["order_id"]) not in self._cid_of_oid:
                    self._to_domain(o)
        out = [
            Fill(fill_id=f"{self.name}:{t['trade_id']}", client_order_id=self._cid_of_oid.get(str(t["order_id"]), str(t["order_id"])),
                 symbol=self._symbol(t["exchange"], t["tradingsymbol"]), side=Side(t["transaction_type"].lower()), quantity=float(t["quantity"]),
                 price=float(t["average_price"]), fee=0.0, ts=_ist(t.get("fill_timestamp") or t.get("exchange_timestamp")), venue=self.name)
            for t in trades
        ]
        return fills_since(out, since_client_order_id, since)

    def positions(self) -> list[Position]:
        """Return net positions with a non-zero quantity."""
        net = self._read(self.kite.positions, "positions")["net"]
        return [
            Position(symbol=self._symbol(p["exchange"], p["tradingsymbol"]), quantity=float(p["quantity"]), avg_price=float(p["average_price"]),
                     realized_pnl=float(p.get("realised") or 0), last_price=float(p["last_price"]) if p.get("last_price") else None)
            for p in net if p["quantity"]
        ]

    def balances(self) -> list[Balance]:
        """Return the equity segment's cash (INR): ``free`` is the live balance, ``total`` the net."""
        eq = self._read(self.kite.margins, "margins")["equity"]
        return [Balance("INR", float(eq["available"]["live_balance"]), float(eq["net"]))]
