"""Binance's wire format (as ccxt hands it over) to ours: order and trade payloads, errors.

Pure mappings with no client state: :class:`core.brokers.binance.BinanceBroker` keeps the
client-ID bookkeeping and calls these.
"""

from __future__ import annotations

from typing import Any

import ccxt

from core.brokers._venue import from_ms, retry_after_seconds
from core.brokers.base import BrokerError, InsufficientFunds, OrderNotFound, OrderRejected, RetryableBrokerError
from core.brokers.retry import VenueUnavailable
from core.domain import Fill, Order, OrderStatus, OrderType, Side, TimeInForce

_STATUS = {
    "NEW": OrderStatus.ACCEPTED, "PENDING_NEW": OrderStatus.ACCEPTED, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED, "CANCELED": OrderStatus.CANCELED, "PENDING_CANCEL": OrderStatus.ACCEPTED,
    "REJECTED": OrderStatus.REJECTED, "EXPIRED": OrderStatus.EXPIRED, "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}
_TYPES = {
    "MARKET": OrderType.MARKET, "LIMIT": OrderType.LIMIT, "LIMIT_MAKER": OrderType.LIMIT, "STOP_LOSS": OrderType.STOP,
    "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT, "TAKE_PROFIT": OrderType.STOP, "TAKE_PROFIT_LIMIT": OrderType.STOP_LIMIT,
}


def map_ccxt_error(exc: Exception, venue: str = "binance", headers: dict[str, str] | None = None, status: int | None = None) -> BrokerError:
    """Map a ccxt exception onto the broker error classes (retryable or not).

    Binance says a 5xx, ``-1000`` (unknown) or ``-1007`` (backend timeout) leaves the
    execution status unknown: those are retryable, and a submit is looked up before any resend.
    """
    msg = f"{venue}: {exc}"
    if (status is not None and (status >= 500 or status == 429)) or '"code": -1000' in str(exc) or '"code":-1000' in str(exc) or "-1007" in str(exc):
        return RetryableBrokerError(msg, retry_after=retry_after_seconds((headers or {}).get("Retry-After")))
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFunds(msg)
    if isinstance(exc, ccxt.OrderNotFound):
        return OrderNotFound(msg)
    if isinstance(exc, ccxt.DDoSProtection):  # 418/429 and RateLimitExceeded
        return RetryableBrokerError(msg, retry_after=retry_after_seconds((headers or {}).get("Retry-After")))
    if isinstance(exc, ccxt.RequestTimeout | ccxt.ExchangeNotAvailable):
        return RetryableBrokerError(msg)
    if isinstance(exc, ccxt.NetworkError):
        cause = repr(exc.__cause__)
        if "Failed to establish a new connection" in cause or "Connection refused" in cause:
            return VenueUnavailable(f"{venue} is unreachable")
        return RetryableBrokerError(msg)
    if isinstance(exc, ccxt.AuthenticationError | ccxt.PermissionDenied):
        return BrokerError(f"{venue}: the API key was refused; check BINANCE key/secret and testnet setting ({exc})")
    if isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest | ccxt.OperationRejected | ccxt.BadSymbol):
        return OrderRejected(msg)
    return BrokerError(msg)


def order_from_wire(raw: dict[str, Any], *, client_order_id: str, broker_order_id: str, symbol: str, venue: str) -> Order:
    """Return our :class:`~core.domain.Order` for a ccxt order dict (its ``info`` is Binance's own payload).

    A stop leg of a native OCO (client ID ``"<id>:stop_loss"``) names ``<id>`` as its parent.
    """
    info = raw.get("info") or {}
    limit = float(info["price"]) if info.get("price") and float(info["price"]) > 0 else None
    stop = float(info["stopPrice"]) if info.get("stopPrice") and float(info["stopPrice"]) > 0 else None
    filled = float(info.get("executedQty") or raw.get("filled") or 0.0)
    quote_qty = float(info.get("cummulativeQuoteQty") or 0.0)
    avg = raw.get("average") or (quote_qty / filled if filled else None)
    tif = (info.get("timeInForce") or "GTC").lower()
    return Order(
        client_order_id=client_order_id, symbol=symbol, side=Side(info.get("side", raw.get("side", "buy")).lower()),
        quantity=float(info.get("origQty") or raw.get("amount") or 0.0), order_type=_TYPES.get(info.get("type", "LIMIT"), OrderType.LIMIT),
        limit_price=limit, stop_price=stop, time_in_force=TimeInForce(tif) if tif in TimeInForce._value2member_map_ else TimeInForce.GTC,
        status=_STATUS.get(info.get("status", "NEW"), OrderStatus.ACCEPTED), filled_quantity=filled, avg_fill_price=float(avg) if avg else None,
        created_at=from_ms(info.get("time") or info.get("transactTime") or raw.get("timestamp")),
        updated_at=from_ms(info.get("updateTime") or info.get("transactTime") or raw.get("timestamp")),
        broker_order_id=broker_order_id, venue=venue,
        oco_group=f"list:{info['orderListId']}" if str(info.get("orderListId", -1)) != "-1" else None,
        parent_id=client_order_id.rsplit(":", 1)[0] if client_order_id.endswith(":stop_loss") else None,
    )


def fill_from_wire(trade: dict[str, Any], *, client_order_id: str, symbol: str, venue: str) -> Fill:
    """Return our :class:`~core.domain.Fill` for a ccxt trade dict of ``fetch_my_trades``."""
    fee = (trade.get("fee") or {}).get("cost") or 0.0
    return Fill(
        fill_id=f"{venue}:{trade['id']}", client_order_id=client_order_id, symbol=symbol, side=Side(trade["side"]),
        quantity=float(trade["amount"]), price=float(trade["price"]), fee=float(fee), ts=from_ms(trade["timestamp"]), venue=venue,
        liquidity="maker" if trade.get("takerOrMaker") == "maker" else "taker",
    )
