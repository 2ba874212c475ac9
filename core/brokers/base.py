"""The one ``Broker`` protocol every venue implements (paper, binance, alpaca, zerodha).

A broker declares what it can do as data (:class:`Capabilities`); the order
manager emulates the rest. Errors say whether a retry may help:
:class:`RetryableBrokerError` (timeouts, rate limits, 5xx) may be retried with
backoff after looking the order up by client ID; :class:`OrderRejected` and
the other :class:`BrokerError` subclasses never are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from core.domain import AssetClass, Fill, Order, OrderType, Position, TimeInForce


class BrokerError(RuntimeError):
    """A broker call failed; not retryable unless a subclass says so."""


class RetryableBrokerError(BrokerError):
    """Timeout, rate limit or server error: the call may be retried with backoff.

    ``retry_after`` (seconds) is set when the venue said how long to wait.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OrderRejected(BrokerError):
    """The venue refused the order (bad price, lot size, funds...). Never retried."""


class InsufficientFunds(OrderRejected):
    """Not enough cash or margin for the order."""


class OrderNotFound(BrokerError):
    """No order with that client or broker ID exists at the venue."""


class AuthenticationError(BrokerError):
    """The venue refused the credentials (HTTP 401/403, expired token); renew them, retrying cannot help."""


@dataclass(frozen=True)
class Capabilities:
    """What a venue supports natively; anything else is emulated by the order manager."""

    order_types: frozenset[OrderType] = frozenset(OrderType)
    time_in_force: frozenset[TimeInForce] = frozenset(TimeInForce)
    asset_classes: frozenset[AssetClass] = frozenset({AssetClass.EQUITY})
    oco: bool = False
    bracket: bool = False
    shorting: bool = True
    fractional: bool = False
    maker_fee: float = 0.0
    taker_fee: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)

    def supports(self, order_type: OrderType) -> bool:
        """Return True when ``order_type`` is native at this venue."""
        return order_type in self.order_types


@dataclass(frozen=True)
class Balance:
    """Cash in one currency: ``free`` may be spent, ``total`` includes what open orders hold."""

    currency: str
    free: float
    total: float


@runtime_checkable
class Broker(Protocol):
    """A trading venue. Every method is required unless its docstring says optional."""

    name: str

    def capabilities(self) -> Capabilities:
        """Return the venue's native capabilities."""
        ...

    def submit(self, order: Order) -> Order:
        """Send ``order``; return it as accepted (or raise). Idempotent on ``client_order_id``."""
        ...

    def cancel(self, client_order_id: str) -> Order:
        """Cancel an open order; return its final state."""
        ...

    def replace(self, client_order_id: str, *, quantity: float | None = None, limit_price: float | None = None, stop_price: float | None = None) -> Order:
        """Amend an open order's quantity or prices; return the new state."""
        ...

    def get_order(self, client_order_id: str) -> Order:
        """Return the venue's view of one order; raise :class:`OrderNotFound` if unknown."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return the venue's open orders."""
        ...

    def fills(self, since_client_order_id: str | None = None, *, since: datetime | None = None) -> list[Fill]:
        """Return fills known to the venue (for reconciliation), oldest first.

        ``since`` (a time) asks only for fills at or after it: the loop polls with the time of
        the last fill it has, so a poll's cost does not grow with the account's history.
        """
        ...

    def positions(self) -> list[Position]:
        """Return the venue's positions."""
        ...

    def balances(self) -> list[Balance]:
        """Return cash balances."""
        ...
