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
REPLACE_REJECTED = "OrderReplaceRejected"  # the risk check vetoed an amendment; the order is unchanged
STATE_UNKNOWN = "OrderStateUnknown"  # a send may have reached the venue; reconciliation settles it

#: The event that records a move into each status.
EVENT_FOR_STATUS = {
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


OrderListener = Callable[[OrderEvent], None]
