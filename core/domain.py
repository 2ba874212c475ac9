"""Domain messages: immutable values shared by every layer.

Sides, order types, modes and regimes are ``str`` enums so they serialise as
plain strings (JSON, the database, the UI) and compare equal to those strings.
Every event carries its timestamp, always a timezone-aware UTC ``datetime``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """Return +1 for a buy and -1 for a sell."""
        return 1 if self is Side.BUY else -1

    def opposite(self) -> Side:
        """Return the other side."""
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(enum.StrEnum):
    GTC = "gtc"
    DAY = "day"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(enum.StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        """Return True when no further transition is possible."""
        return self in _TERMINAL


_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED})


class AssetClass(enum.StrEnum):
    EQUITY = "equity"
    CRYPTO = "crypto"
    FX = "fx"
    INDEX = "index"
    FUTURE = "future"


class Mode(enum.StrEnum):
    PAPER = "paper"
    LIVE = "live"


class Regime(enum.StrEnum):
    BULL = "bull"
    BEAR = "bear"
    SIDEWAYS = "sideways"
    VOLATILE = "volatile"
    CRISIS = "crisis"


class RiskAction(enum.StrEnum):
    APPROVE = "approve"
    SHRINK = "shrink"
    VETO = "veto"


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; ``ts`` is the bar's open time in UTC."""

    symbol: str
    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable instrument and the venue's rounding rules for it."""

    symbol: str
    asset_class: AssetClass = AssetClass.EQUITY
    venue: str = "paper"
    tick_size: float = 0.01
    lot_size: float = 1.0
    currency: str = "USD"


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the order manager and brokers see it.

    ``client_order_id`` is the idempotency key: a broker must never hold two
    orders with the same one. ``parent_id`` and ``oco_group`` tie the legs of
    brackets and OCO pairs together.
    """

    client_order_id: str
    symbol: str
    side: Side
    quantity: float
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    trail_amount: float | None = None
    trail_percent: float | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    status: OrderStatus = OrderStatus.NEW
    filled_quantity: float = 0.0
    avg_fill_price: float | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    broker_order_id: str | None = None
    parent_id: str | None = None
    oco_group: str | None = None
    venue: str = "paper"
    reason: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def remaining(self) -> float:
        """Return the quantity not filled yet."""
        return max(self.quantity - self.filled_quantity, 0.0)

    def evolve(self, **changes: Any) -> Order:
        """Return a copy with ``changes`` applied (orders are immutable)."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of (part of) an order; ``fee`` is in the quote currency."""

    fill_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: float
    price: float
    fee: float
    ts: datetime
    venue: str = "paper"
    liquidity: str = "taker"


@dataclass(frozen=True, slots=True)
class Position:
    """A net position: positive quantity is long, negative is short."""

    symbol: str
    quantity: float
    avg_price: float
    realized_pnl: float = 0.0
    last_price: float | None = None

    @property
    def market_value(self) -> float:
        """Return quantity times the last price (or average cost if unknown)."""
        price = self.last_price if self.last_price is not None else self.avg_price
        return self.quantity * price

    @property
    def unrealized_pnl(self) -> float:
        """Return the mark-to-market profit of the open quantity."""
        if self.last_price is None:
            return 0.0
        return (self.last_price - self.avg_price) * self.quantity


@dataclass(frozen=True, slots=True)
class Signal:
    """A model's view on a symbol at ``ts``: probability of an up-move and regime."""

    symbol: str
    ts: datetime
    p_up: float
    regime: Regime | None = None
    model_id: str | None = None
    direction: int = 0  # +1 long, -1 short, 0 flat
    confidence: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """The risk engine's verdict on an order intent.

    ``quantity`` is what may be sent: the requested quantity when approved, a
    smaller one when shrunk, zero when vetoed. ``checks`` records every rule
    evaluated, for the audit log and the UI.
    """

    action: RiskAction
    quantity: float
    reason: str = ""
    checks: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        """Return True when some quantity may be sent."""
        return self.action is not RiskAction.VETO and self.quantity > 0
