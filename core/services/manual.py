"""Manual orders from the UI ticket: preview through the risk engine, then queue for the trading loop.

Nothing here talks to a broker. An approved (or shrunk) ticket is stored in a
durable queue, the settings-table list ``manual.queue``; the trading loop sends
it at its next tick, where the order manager checks it once more. Cancels go to
``manual.cancels`` the same way.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from core.domain import Order, OrderType, RiskAction, RiskDecision, Side, TimeInForce
from core.execution import repo as execution_repo
from core.risk.hook import order_to_intent
from core.risk.limits import RiskEngine, RiskLimits
from core.services.book import market_state, paper_asof, paper_state
from core.services.context import Context, get_context
from core.services.settings import risk_limits

QUEUE_KEY = "manual.queue"
CANCELS_KEY = "manual.cancels"
ORDER_CLASSES = ("simple", "oco", "bracket")
_PRICES = ("limit_price", "stop_price", "trail_amount", "trail_percent", "take_profit", "stop_loss", "oco_limit_price", "oco_stop_price")


def _num(spec: dict[str, Any], key: str) -> float | None:
    value = spec.get(key)
    if value in (None, "", 0, 0.0):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number, not {value!r}") from None
    if not math.isfinite(out) or out <= 0:
        raise ValueError(f"{key} must be a positive number, not {value!r}")
    return out


def normalize_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Return the ticket with types checked and unused fields dropped; raise ``ValueError`` saying what to fix.

    Fields: ``symbol``, ``side`` (buy/sell), ``quantity``, ``order_type`` (market, limit, stop,
    stop_limit, trailing_stop), ``limit_price``, ``stop_price``, ``trail_amount``, ``trail_percent``,
    ``time_in_force``, ``order_class`` (simple, oco, bracket); bracket: ``take_profit`` and/or
    ``stop_loss``; oco: the second leg's ``oco_limit_price`` (a take-profit limit) and ``oco_stop_price``.
    """
    symbol = str(spec.get("symbol") or "").strip().upper()
    if not symbol:
        raise ValueError("choose a symbol")
    try:
        side = Side(str(spec.get("side", "buy")).lower())
        otype = OrderType(str(spec.get("order_type", "market")).lower())
        tif = TimeInForce(str(spec.get("time_in_force", "gtc")).lower())
    except ValueError as exc:
        raise ValueError(f"invalid ticket: {exc}") from None
    klass = str(spec.get("order_class", "simple")).lower()
    if klass not in ORDER_CLASSES:
        raise ValueError(f"order_class must be one of {', '.join(ORDER_CLASSES)}, not {klass!r}")
    qty = _num(spec, "quantity")
    if qty is None:
        raise ValueError("quantity must be a positive number")
    out: dict[str, Any] = {"symbol": symbol, "side": str(side), "quantity": qty, "order_type": str(otype), "time_in_force": str(tif), "order_class": klass}
    for key in _PRICES:
        value = _num(spec, key)
        if value is not None:
            out[key] = value
    need = {OrderType.LIMIT: ["limit_price"], OrderType.STOP: ["stop_price"], OrderType.STOP_LIMIT: ["limit_price", "stop_price"]}.get(otype, [])
    for key in need:
        if key not in out:
            raise ValueError(f"a {otype} order needs {key.replace('_', ' ')}")
    if otype is OrderType.TRAILING_STOP and not ("trail_amount" in out or "trail_percent" in out):
        raise ValueError("a trailing stop needs a trail amount or a trail percent")
    if klass == "bracket" and not ("take_profit" in out or "stop_loss" in out):
        raise ValueError("a bracket needs a take-profit and/or a stop-loss price")
    if klass == "oco" and not ("oco_limit_price" in out or "oco_stop_price" in out):
        raise ValueError("an OCO ticket needs the second leg's limit or stop price")
    return out


def client_order_id(spec: dict[str, Any], ctx: Context | None = None) -> str:
    """Return the deterministic id of a ticket: the same ticket in the same second gets the same id (a double click queues once)."""
    ctx = ctx or get_context()
    canonical = json.dumps(normalize_spec(spec), sort_keys=True)
    stamp = ctx.clock.now().strftime("%Y%m%d%H%M%S")
    return f"manual-{stamp}-{hashlib.sha1(canonical.encode()).hexdigest()[:8]}"


def ticket_orders(spec: dict[str, Any], cid: str = "manual-preview") -> list[Order]:
    """Return the domain orders of a ticket: the order itself, then its OCO partner or bracket exits."""
    s = normalize_spec(spec)
    side = Side(s["side"])
    base = Order(cid, s["symbol"], side, s["quantity"], OrderType(s["order_type"]), limit_price=s.get("limit_price"), stop_price=s.get("stop_price"),
                 trail_amount=s.get("trail_amount"), trail_percent=s.get("trail_percent"), time_in_force=TimeInForce(s["time_in_force"]),
                 reason="manual ticket", tags={"manual": True})
    if s["order_class"] == "oco":
        group = f"oco-{cid}"
        second_type = OrderType.LIMIT if "oco_limit_price" in s else OrderType.STOP
        second = Order(f"{cid}-b", s["symbol"], side, s["quantity"], second_type, limit_price=s.get("oco_limit_price"),
                       stop_price=s.get("oco_stop_price") if second_type is OrderType.STOP else None, oco_group=group, reason="manual ticket",
                       tags={"manual": True})
        return [base.evolve(oco_group=group), second]
    if s["order_class"] == "bracket":
        exits = []
        exit_side = side.opposite()
        common = {"parent_id": cid, "oco_group": f"bracket-{cid}", "reason": "manual bracket exit", "tags": {"manual": True}}
        if "take_profit" in s:
            exits.append(Order(f"{cid}-tp", s["symbol"], exit_side, s["quantity"], OrderType.LIMIT, limit_price=s["take_profit"], **common))
        if "stop_loss" in s:
            exits.append(Order(f"{cid}-sl", s["symbol"], exit_side, s["quantity"], OrderType.STOP, stop_price=s["stop_loss"], **common))
        return [base, *exits]
    return [base]


def preview_order(spec: dict[str, Any], actor: str = "user", ctx: Context | None = None) -> RiskDecision:
    """Return the risk engine's decision on a ticket against the stored paper account; the decision is audited.

    The first order of the ticket carries the risk (the OCO partner is an
    alternative to it, bracket exits only reduce the entry). Uses the limits in
    force (config plus UI overrides) on a preview engine: a preview never counts
    towards the loop's orders-per-minute window.
    """
    ctx = ctx or get_context()
    order = ticket_orders(spec)[0]
    asof = paper_asof(ctx=ctx)
    pf = paper_state(ctx=ctx)
    market = market_state({order.symbol, *pf.positions}, asof, ctx=ctx)
    engine = RiskEngine(RiskLimits.from_settings(risk_limits(ctx)), ctx.store, ctx.clock)
    try:
        intent = order_to_intent(order, pf, market, lot_size=1.0 if order.symbol != "BTC-USD" else 1e-8)
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
