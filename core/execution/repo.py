"""Persistence of orders and their events (``orders`` and ``order_events`` tables)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import select

from core.brokers.events import DENIED, OrderDenied, OrderEvent
from core.domain import Order, OrderStatus, OrderType, Side, TimeInForce
from core.store import Store
from core.store.tables import OrderEventRow, OrderRow

_FIELDS = ("client_order_id", "broker_order_id", "symbol", "quantity", "limit_price", "stop_price", "trail_amount", "trail_percent",
           "filled_quantity", "avg_fill_price", "venue", "parent_id", "oco_group", "reason")


def order_values(order: Order, account: str) -> dict[str, Any]:
    """Return the column values of ``order``'s row."""
    now = order.updated_at or order.created_at
    return {
        "account": account, "side": str(order.side), "order_type": str(order.order_type), "time_in_force": str(order.time_in_force),
        "status": str(order.status), "created_at": order.created_at or now, "updated_at": now or order.created_at, "tags": dict(order.tags),
        **{f: getattr(order, f) for f in _FIELDS},
    }  # fmt: skip


def order_to_row(order: Order, account: str) -> OrderRow:
    """Return the table row for ``order``."""
    return OrderRow(**order_values(order, account))


def row_to_order(row: OrderRow) -> Order:
    """Return the domain order stored in ``row``."""
    return Order(
        side=Side(row.side),
        order_type=OrderType(row.order_type),
        time_in_force=TimeInForce(row.time_in_force),
        status=OrderStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        tags=dict(row.tags or {}),
        **{f: getattr(row, f) for f in _FIELDS},
    )


def save_order(store: Store, order: Order, account: str) -> None:
    """Insert or update ``order`` (keyed by its client order ID)."""
    store.upsert(OrderRow, [order_values(order, account)])


def load_order(store: Store, client_order_id: str) -> Order | None:
    """Return the stored order with that client ID, or None."""
    row = store.get_row(OrderRow, (client_order_id,))
    return None if row is None else row_to_order(OrderRow(**row))


def load_orders(store: Store, account: str, open_only: bool = False) -> list[Order]:
    """Return the account's stored orders, oldest first."""
    q = select(OrderRow).where(OrderRow.account == account).order_by(OrderRow.created_at)
    if open_only:
        q = q.where(OrderRow.status.not_in([str(s) for s in OrderStatus if s.is_terminal]))
    with store.session() as s:
        return [row_to_order(r) for r in s.exec(q)]


def save_event(store: Store, event: OrderEvent) -> None:
    """Append one order event."""
    store.insert(OrderEventRow, [{"client_order_id": event.client_order_id, "ts": event.ts, "event": event.event, "status": str(event.status),
                                  "detail": _jsonable(event.detail)}])


def load_events(store: Store, client_order_id: str | None = None) -> list[OrderEvent]:
    """Return stored events (of one order, or all), in the order they happened."""
    q = select(OrderEventRow).order_by(OrderEventRow.id)
    if client_order_id is not None:
        q = q.where(OrderEventRow.client_order_id == client_order_id)
    with store.session() as s:
        return [OrderEvent(r.client_order_id, r.ts, r.event, OrderStatus(r.status), dict(r.detail or {})) for r in s.exec(q)]


def load_denials(store: Store, client_order_ids: Iterable[str] | None = None) -> dict[str, OrderDenied]:
    """Return the stored risk vetoes (:class:`OrderDenied`) by client order ID (of the given orders, or all)."""
    q = select(OrderEventRow).where(OrderEventRow.event == DENIED).order_by(OrderEventRow.id)
    wanted = None if client_order_ids is None else set(client_order_ids)
    with store.session() as s:
        events = [OrderEvent(r.client_order_id, r.ts, r.event, OrderStatus(r.status), dict(r.detail or {})) for r in s.exec(q)]
    return {e.client_order_id: OrderDenied.from_event(e) for e in events if wanted is None or e.client_order_id in wanted}


def _jsonable(detail: dict) -> dict:
    return {k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v)) for k, v in detail.items()}
