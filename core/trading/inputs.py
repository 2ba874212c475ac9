"""Outside inputs to the trading loop, applied at a bar: kill-switch flattening, manual tickets and cancels.

Each bar's inputs are drained once (from the settings the Trading page and the kill switch
write) and recorded under the bar, so a replay after a restart applies exactly the same
inputs at the same bar.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.domain import Order, OrderType, Side
from core.execution.manager import OrderManager
from core.execution.tickets import ticket_orders
from core.store import Store


def drain(loop: Any, ts: pd.Timestamp, replay: bool) -> list[dict[str, Any]]:
    """Return the outside inputs applied at ``ts``: the recorded ones in a replay, else drain them now (and record them)."""
    store: Store = loop.store
    key = f"{loop._key}.external.{ts.isoformat()}"
    if replay:
        return list(store.get_setting(key, []) or [])
    items: list[dict[str, Any]] = []
    if loop.risk.state.kill_switch().get("engaged"):
        for symbol, pos in sorted(loop.broker.portfolio.positions.items()):
            if abs(pos.quantity) > 1e-12:
                items.append({"kind": "order", "client_order_id": f"kill-{symbol}-{ts:%Y%m%dT%H%M%S}", "symbol": symbol,
                              "side": "sell" if pos.quantity > 0 else "buy", "quantity": abs(pos.quantity), "order_type": "market",
                              "reason": "kill switch: flatten"})
        for order in loop.manager.open_orders():
            items.append({"kind": "cancel", "client_order_id": order.client_order_id})
    queue = store.get_setting("manual.queue", []) or []
    cancels = store.get_setting("manual.cancels", []) or []
    for entry in queue:  # tickets from the Trading page (core.services.manual), risk-checked again here
        items.append({"kind": "ticket", "client_order_id": entry["client_order_id"], "spec": entry["spec"]})
    for entry in cancels:
        items.append({"kind": "cancel", "client_order_id": entry if isinstance(entry, str) else entry["client_order_id"]})
    if queue:
        store.set_setting("manual.queue", [])
    if cancels:
        store.set_setting("manual.cancels", [])
    if queue or cancels:
        store.flush()  # clear what was taken at once, not at the bar's commit: a ticket queued meanwhile is not overwritten
    if items:
        store.set_setting(key, items)
    return items


def apply(manager: OrderManager, item: dict[str, Any]) -> None:
    """Apply one input through the order manager (so through the risk check): a ticket, a cancel or an order."""
    if item["kind"] == "ticket":
        for order in ticket_orders(item["spec"], cid=item["client_order_id"]):
            manager.submit(order)
        return
    if item["kind"] == "cancel":
        order = manager.get(item["client_order_id"])
        if order is not None and not order.status.is_terminal:
            manager.cancel(item["client_order_id"])
        return
    fields = {k: item[k] for k in ("limit_price", "stop_price", "trail_amount", "trail_percent") if item.get(k) is not None}
    order = Order(item["client_order_id"], item["symbol"], Side(item["side"]), float(item["quantity"]), OrderType(item.get("order_type", "market")),
                  reason=item.get("reason"), tags={"source": item.get("source", "external")}, **fields)
    if item.get("take_profit") is not None or item.get("stop_loss") is not None:
        manager.submit_bracket(order, take_profit=item.get("take_profit"), stop_loss=item.get("stop_loss"))
    else:
        manager.submit(order)


def cancel_queue_at_end(store: Store, last_bar: pd.Timestamp) -> None:
    """At the end of the replay no bar will ever send the queued manual orders: cancel them, saying why."""
    queue = store.get_setting("manual.queue", []) or []
    if not queue:
        return
    reason = f"data exhausted: the replay has no bar after {last_bar:%Y-%m-%d}"
    store.set_setting("manual.queue", [])
    done = list(store.get_setting("manual.cancelled", []) or [])
    done += [{"client_order_id": q["client_order_id"], "spec": q["spec"], "reason": reason} for q in queue]
    store.set_setting("manual.cancelled", done[-100:])
    store.audit("manual_order", f"{len(queue)} queued manual order(s) cancelled: {reason}", {"orders": [q["client_order_id"] for q in queue]})
