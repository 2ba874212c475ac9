"""Order lifecycle events, named in the past tense; each carries its timestamp."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.domain import OrderStatus

ACCEPTED = "OrderAccepted"
REJECTED = "OrderRejected"
PARTIALLY_FILLED = "OrderPartiallyFilled"
FILLED = "OrderFilled"
CANCELED = "OrderCanceled"
EXPIRED = "OrderExpired"
UPDATED = "OrderUpdated"
TRIGGERED = "OrderTriggered"
SUBMITTED = "OrderSubmitted"
RECONCILED = "OrderReconciled"
DENIED = "OrderDenied"
CREATED = "OrderCreated"
REPLACE_REJECTED = "OrderReplaceRejected"  # the risk check vetoed an amendment; the order is unchanged
STATE_UNKNOWN = "OrderStateUnknown"  # a send may have reached the venue; reconciliation settles it

#: The event that records a move into each status.
EVENT_FOR_STATUS = {
    OrderStatus.NEW: CREATED,
    OrderStatus.ACCEPTED: ACCEPTED,
    OrderStatus.PARTIALLY_FILLED: PARTIALLY_FILLED,
    OrderStatus.FILLED: FILLED,
    OrderStatus.CANCELED: CANCELED,
    OrderStatus.REJECTED: REJECTED,
    OrderStatus.EXPIRED: EXPIRED,
}


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One transition (or amendment) of one order, stamped by the injected clock."""

    client_order_id: str
    ts: datetime
    event: str
    status: OrderStatus
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OrderDenied:
    """The risk check vetoed an order: it was never sent.

    ``limit`` names the check(s) that bound (e.g. ``"max_position: veto"``); the recovery
    replay repeats the veto from this record instead of parsing the order's reason text.
    """

    client_order_id: str
    reason: str
    limit: str
    ts: datetime

    @classmethod
    def from_event(cls, event: OrderEvent) -> OrderDenied:
        """Return the denial recorded in a stored :data:`DENIED` event."""
        return cls(event.client_order_id, str(event.detail.get("reason", "")), str(event.detail.get("limit", "")), event.ts)


OrderListener = Callable[[OrderEvent], None]
