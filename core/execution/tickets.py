"""Order tickets (the Trading page's manual orders) as domain orders.

A ticket is a plain dict (what the UI and the settings-table queue store);
:func:`normalize_spec` checks it, :func:`ticket_orders` turns it into the orders the
order manager submits (the order itself, then its OCO partner or bracket exits). The
manual-ticket preview (``core.services.manual``) and the trading loop both use these.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from core.domain import Order, OrderType, Side, TimeInForce

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
    if out.get("trail_percent", 0) >= 100:
        raise ValueError(f"trail percent must be below 100 (5 = 5 % behind the best price), not {out['trail_percent']:g}: it would put the stop at or past 0")
    if klass == "bracket" and not ("take_profit" in out or "stop_loss" in out):
        raise ValueError("a bracket needs a take-profit and/or a stop-loss price")
    if klass == "bracket":
        _check_bracket(out, side)
    if klass == "oco" and not ("oco_limit_price" in out or "oco_stop_price" in out):
        raise ValueError("an OCO ticket needs the second leg's limit or stop price")
    return out


def _check_bracket(t: dict[str, Any], side: Side) -> None:
    """Raise when a bracket's exits sit on the wrong side: a buy's take-profit above its stop-loss (and its limit entry between them)."""
    levels = [(name, t[key]) for name, key in (("stop-loss", "stop_loss"), ("entry limit", "limit_price"), ("take-profit", "take_profit")) if key in t]
    if side is Side.SELL:
        levels.reverse()
    for (low_name, low), (high_name, high) in itertools.pairwise(levels):
        if low >= high:
            order = " < ".join(name for name, _ in levels)
            raise ValueError(f"a {side} bracket needs {order}; here the {low_name} {low:g} is not below the {high_name} {high:g}")


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
