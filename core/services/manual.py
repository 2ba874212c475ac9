"""Manual orders from the UI ticket: preview through the risk engine, then queue for the trading loop.

Nothing here talks to a broker. An approved (or shrunk) ticket is stored in a
durable queue, the settings-table list ``manual.queue``; the trading loop sends
it at its next tick, where the order manager checks it once more. Cancels go to
``manual.cancels`` the same way.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from core.domain import RiskAction, RiskDecision
from core.engine import default_lot, lot_for, portfolio_state
from core.engine import market_state as engine_market_state
from core.execution import repo as execution_repo
from core.execution.tickets import normalize_spec, ticket_orders
from core.risk.hook import order_to_intent
from core.risk.limits import RiskEngine, RiskLimits
from core.services.book import market_state, paper_asof, paper_state
from core.services.context import Context, get_context
from core.services.settings import risk_limits

QUEUE_KEY = "manual.queue"
CANCELS_KEY = "manual.cancels"




def client_order_id(spec: dict[str, Any], ctx: Context | None = None) -> str:
    """Return the deterministic id of a ticket: the same ticket in the same second gets the same id (a double click queues once)."""
    ctx = ctx or get_context()
    canonical = json.dumps(normalize_spec(spec), sort_keys=True)
    stamp = ctx.clock.now().strftime("%Y%m%d%H%M%S")
    return f"manual-{stamp}-{hashlib.sha1(canonical.encode()).hexdigest()[:8]}"


def preview_order(spec: dict[str, Any], actor: str = "user", ctx: Context | None = None) -> RiskDecision:
    """Return the risk engine's decision on a ticket against the stored paper account; the decision is audited.

    The first order of the ticket carries the risk (the OCO partner is an
    alternative to it, bracket exits only reduce the entry). When this process runs the
    paper loop, the preview sees the loop's own book (pending orders included), prices and
    lot sizes, the very view its order manager will check the ticket against; otherwise
    the stored account, the bundled bars and the same lot sizes (:func:`core.engine.default_lot`). Uses the limits in
    force (config plus UI overrides) on a preview engine: a preview never counts
    towards the loop's orders-per-minute window.
    """
    ctx = ctx or get_context()
    order = ticket_orders(spec)[0]
    loop = ctx.extras.get("trading_loop")
    if loop is not None and loop.ready:
        pending = [o for o in loop.manager.open_orders() if o.client_order_id != order.client_order_id]
        pf = portfolio_state(loop.engine.portfolio, loop.clock.now(), pending)
        market = engine_market_state(loop.engine)
        lot = lot_for(order.symbol, loop.broker)
    else:
        asof = paper_asof(ctx=ctx)
        pf = paper_state(ctx=ctx)
        market = market_state({order.symbol, *pf.positions}, asof, ctx=ctx)
        lot = default_lot(order.symbol)
    engine = RiskEngine(RiskLimits.from_settings(risk_limits(ctx)), ctx.store, ctx.clock)
    try:
        intent = order_to_intent(order, pf, market, lot_size=lot)
    except ValueError as exc:
        decision = RiskDecision(RiskAction.VETO, 0.0, f"{exc}; only bundled symbols can be traded on paper", ("price: veto",))
        ctx.store.audit("risk", f"veto {order.side} {order.quantity:g} {order.symbol}: {decision.reason}", {"action": "veto", "reason": decision.reason},
                        actor=actor)
        return decision
    return engine.check(intent, pf, market)


def pending_manual_orders(ctx: Context | None = None) -> list[dict[str, Any]]:
    """Return the queued tickets not yet taken by the trading loop, oldest first."""
    ctx = ctx or get_context()
    return list(ctx.store.get_setting(QUEUE_KEY, []) or [])


def pending_cancels(ctx: Context | None = None) -> list[dict[str, Any]]:
    """Return the queued cancel requests not yet taken by the trading loop."""
    ctx = ctx or get_context()
    return list(ctx.store.get_setting(CANCELS_KEY, []) or [])


def cancelled_manual_orders(ctx: Context | None = None) -> list[dict[str, Any]]:
    """Return the queued tickets the loop cancelled without sending (e.g. at the end of the replay), newest first, with the reason."""
    ctx = ctx or get_context()
    return list(reversed(ctx.store.get_setting("manual.cancelled", []) or []))


def queue_manual_order(spec: dict[str, Any], actor: str = "user", ctx: Context | None = None) -> dict[str, Any]:
    """Preview a ticket and queue it when the risk engine approves or shrinks it.

    Returns ``{"queued": bool, "client_order_id", "action", "quantity", "requested_quantity",
    "reason", "checks", "spec"}``; a vetoed ticket is not queued and ``reason`` says why.
    A shrunk ticket is queued with the allowed quantity (bracket exits follow it).
    """
    ctx = ctx or get_context()
    clean = normalize_spec(spec)
    cid = client_order_id(clean, ctx)
    decision = preview_order(clean, actor=actor, ctx=ctx)
    out = {"queued": False, "client_order_id": cid, "action": str(decision.action), "quantity": decision.quantity,
           "requested_quantity": clean["quantity"], "reason": decision.reason, "checks": list(decision.checks), "spec": clean}
    if not decision.allowed:
        return out
    with ctx.store.transaction():
        queue = pending_manual_orders(ctx)
        if all(q["client_order_id"] != cid for q in queue):
            entry = {**out, "queued": True, "spec": {**clean, "quantity": decision.quantity}, "queued_at": ctx.clock.now().isoformat(), "actor": actor}
            queue.append(entry)
            ctx.store.set_setting(QUEUE_KEY, queue)
            ctx.store.audit("manual", f"queued {clean['side']} {decision.quantity:g} {clean['symbol']} ({cid})", entry, actor=actor)
    out["queued"] = True
    return out


def request_cancel(client_order_id: str, actor: str = "user", ctx: Context | None = None) -> dict[str, Any]:
    """Cancel a ticket still in the queue at once, or queue a cancel of an open stored order for the loop.

    Returns ``{"client_order_id", "status"}`` with status ``removed`` or ``queued``;
    raises ``ValueError`` when the id is neither queued nor an open paper order.
    """
    ctx = ctx or get_context()
    with ctx.store.transaction():
        queue = pending_manual_orders(ctx)
        left = [q for q in queue if q["client_order_id"] != client_order_id]
        if len(left) < len(queue):
            ctx.store.set_setting(QUEUE_KEY, left)
            ctx.store.audit("manual", f"removed queued ticket {client_order_id}", {"client_order_id": client_order_id}, actor=actor)
            return {"client_order_id": client_order_id, "status": "removed"}
        open_ids = {o.client_order_id for o in execution_repo.load_orders(ctx.store, "paper", open_only=True)}
        if client_order_id not in open_ids:
            raise ValueError(f"{client_order_id} is not an open paper order or a queued ticket; refresh the page")
        cancels = pending_cancels(ctx)
        if all(c["client_order_id"] != client_order_id for c in cancels):
            cancels.append({"client_order_id": client_order_id, "requested_at": ctx.clock.now().isoformat(), "actor": actor})
            ctx.store.set_setting(CANCELS_KEY, cancels)
            ctx.store.audit("manual", f"cancel requested for {client_order_id}", {"client_order_id": client_order_id}, actor=actor)
    return {"client_order_id": client_order_id, "status": "queued"}
