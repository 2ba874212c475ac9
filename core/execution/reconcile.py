"""Merge a venue's view (orders, fills, positions, cash) into the store: the venue is the source of truth.

This is the store-level reconciler (a host's start, or a venue the loop does not drive);
:meth:`core.execution.manager.OrderManager.reconcile` is its in-memory counterpart for the
orders one manager works, and both use the same status -> event map
(:data:`core.brokers.events.EVENT_FOR_STATUS`).

Run on start and on every tick. Orders are matched by client order ID, then by
the venue's order ID; every status change is appended to ``order_events`` in the
past tense (``OrderFilled``...). Fills are inserted once (keyed by ``fill_id``).
Positions of the account are replaced by the venue's. Nothing is ever deleted
except positions the venue no longer has.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import select

from core.brokers import events as ev
from core.brokers.base import Broker, BrokerError
from core.clock import Clock, SystemClock
from core.domain import Order, OrderStatus
from core.store import Store
from core.store.tables import AccountRow, FillRow, OrderEventRow, OrderRow, PositionRow

log = logging.getLogger("core.execution.reconcile")

EVENT_OF = ev.EVENT_FOR_STATUS  # the one status -> event map, shared with the order manager
CASH_CURRENCIES = ("USD", "USDT", "INR", "EUR", "USDC")


@dataclass(frozen=True)
class ReconcileReport:
    """What one reconciliation changed."""

    account: str
    orders_new: int = 0
    orders_updated: int = 0
    fills_new: int = 0
    positions: int = 0
    cash: float | None = None


def _row_from(order: Order, account: str, now) -> OrderRow:
    return OrderRow(
        client_order_id=order.client_order_id, account=account, broker_order_id=order.broker_order_id, symbol=order.symbol,
        side=order.side.value, order_type=order.order_type.value, quantity=order.quantity, limit_price=order.limit_price,
        stop_price=order.stop_price, trail_amount=order.trail_amount, trail_percent=order.trail_percent,
        time_in_force=order.time_in_force.value, status=order.status.value, filled_quantity=order.filled_quantity,
        avg_fill_price=order.avg_fill_price, created_at=order.created_at or now, updated_at=order.updated_at or now,
        venue=order.venue, parent_id=order.parent_id, oco_group=order.oco_group, reason=order.reason,
        tags={k: v for k, v in (order.tags or {}).items() if isinstance(v, str | int | float | bool) or v is None},
    )


def reconcile(broker: Broker, store: Store, *, account: str | None = None, clock: Clock | None = None) -> ReconcileReport:
    """Fetch open orders, fills, positions and cash from ``broker`` and merge them into ``store``.

    Orders the store still thinks are live but the venue no longer lists as open
    are looked up one by one, so their final state (filled, canceled) is recorded.
    """
    account = account or broker.name
    now = (clock or store.clock or SystemClock()).now()
    venue_open = {o.client_order_id: o for o in broker.open_orders()}
    with store.session() as s:
        live_ids = [r.client_order_id for r in s.exec(select(OrderRow).where(OrderRow.account == account))
                    if not OrderStatus(r.status).is_terminal]
    seen = dict(venue_open)
    for cid in live_ids:
        if cid not in seen:
            try:
                seen[cid] = broker.get_order(cid)
            except BrokerError as exc:  # leave it as it is; the next tick tries again
                log.warning("reconcile %s: cannot look up %s: %s", account, cid, exc)
    fills = broker.fills()
    with store.session() as s:
        stored = set(s.exec(select(OrderRow.client_order_id).where(OrderRow.account == account)))
    for cid in dict.fromkeys(f.client_order_id for f in fills):
        if cid not in seen and cid not in stored:  # filled while we were not looking (or before a restart)
            try:
                seen[cid] = broker.get_order(cid)
            except BrokerError as exc:
                log.warning("reconcile %s: fill of unknown order %s: %s", account, cid, exc)
    positions = broker.positions()
    balances = broker.balances()

    new = updated = fills_new = 0
    with store.session() as s:
        for cid, order in seen.items():
            row = s.get(OrderRow, cid)
            if row is None and order.broker_order_id:
                row = s.exec(select(OrderRow).where(OrderRow.account == account, OrderRow.broker_order_id == order.broker_order_id)).first()
            if row is None:
                s.add(_row_from(order, account, now))
                s.add(OrderEventRow(client_order_id=cid, ts=now, event=EVENT_OF[order.status], status=order.status.value,
                                    detail={"source": "reconcile", "venue": order.venue}))
                new += 1
                continue
            if (row.status, row.filled_quantity) != (order.status.value, order.filled_quantity) or row.broker_order_id != order.broker_order_id:
                if row.status != order.status.value:
                    s.add(OrderEventRow(client_order_id=row.client_order_id, ts=now, event=EVENT_OF[order.status], status=order.status.value,
                                        detail={"source": "reconcile", "filled": order.filled_quantity}))
                row.status, row.filled_quantity, row.avg_fill_price = order.status.value, order.filled_quantity, order.avg_fill_price
                row.broker_order_id = order.broker_order_id or row.broker_order_id
                row.limit_price, row.stop_price, row.quantity = order.limit_price, order.stop_price, order.quantity
                row.updated_at = order.updated_at or now
                s.add(row)
                updated += 1
        known_fills = {f for f in s.exec(select(FillRow.fill_id).where(FillRow.account == account))}
        for f in fills:
            if f.fill_id in known_fills:
                continue
            s.add(FillRow(fill_id=f.fill_id, account=account, client_order_id=f.client_order_id, symbol=f.symbol, side=f.side.value,
                          quantity=f.quantity, price=f.price, fee=f.fee, ts=f.ts, venue=f.venue, liquidity=f.liquidity))
            fills_new += 1
        held = {p.symbol for p in positions}
        for row in s.exec(select(PositionRow).where(PositionRow.account == account)):
            if row.symbol not in held:
                s.delete(row)
        for p in positions:
            row = s.get(PositionRow, (account, p.symbol)) or PositionRow(account=account, symbol=p.symbol, quantity=0.0, avg_price=0.0, updated_at=now)
            row.quantity, row.avg_price, row.realized_pnl, row.last_price, row.updated_at = p.quantity, p.avg_price, p.realized_pnl, p.last_price, now
            s.add(row)
        cash_bal = next((b for c in CASH_CURRENCIES for b in balances if b.currency == c), None)
        cash = None
        if cash_bal is not None:
            cash = cash_bal.total
            acc = s.get(AccountRow, account) or AccountRow(account=account, cash=cash, currency=cash_bal.currency, updated_at=now)
            acc.cash, acc.currency, acc.updated_at = cash, cash_bal.currency, now
            s.add(acc)
    report = ReconcileReport(account, new, updated, fills_new, len(positions), cash)
    store.audit("reconcile", f"{account}: {new} new orders, {updated} updated, {fills_new} new fills, {len(positions)} positions",
                data={"orders_new": new, "orders_updated": updated, "fills_new": fills_new, "positions": len(positions)}, ts=now)
    log.info("reconciled %s: %s", account, report)
    return report
