"""Pure price rules of the simulated matching engine (see :mod:`core.brokers.paper.fill_model`).

``ref_open`` is the first price the order meets in the bar (the bar's open, or a
bracket parent's fill price); ``hi``/``lo`` the range it may still reach.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.domain import Order, OrderType, Side

STOP_TYPES = (OrderType.STOP, OrderType.TRAILING_STOP, OrderType.STOP_LIMIT)


@dataclass(frozen=True)
class Candidate:
    """A fill an order would get in this bar, before volume and cash limits."""

    order: Order
    price: float
    at_open: bool
    maker: bool


def crossed(side: Side, level: float, ref_open: float, hi: float, lo: float) -> tuple[bool, bool]:
    """Return (reached at the open, reached inside the range) for a buy-above / sell-below ``level``."""
    if side is Side.BUY:
        return ref_open >= level, hi >= level
    return ref_open <= level, lo <= level


def limit_fill(order: Order, ref_open: float, hi: float, lo: float) -> Candidate | None:
    """Fill at the open when it is better than the limit, else at the limit when the range reaches it."""
    limit = order.limit_price
    if order.side is Side.BUY:
        if ref_open <= limit:
            return Candidate(order, ref_open, True, True)
        return Candidate(order, limit, False, True) if lo <= limit else None
    if ref_open >= limit:
        return Candidate(order, ref_open, True, True)
    return Candidate(order, limit, False, True) if hi >= limit else None


def stop_fill(order: Order, ref_open: float, hi: float, lo: float, slip: Callable[[float], float]) -> Candidate | None:
    """Fill a (trailing) stop at the open when gapped through, else at the stop when the range reaches it."""
    if order.stop_price is None:
        return None
    at_open, inside = crossed(order.side, order.stop_price, ref_open, hi, lo)
    if at_open:
        return Candidate(order, slip(ref_open), True, False)
    if inside:
        return Candidate(order, slip(order.stop_price), False, False)
    return None


def trail_stop_price(order: Order, extreme: float) -> float:
    """Return the trailing stop for the best price seen so far (``extreme``)."""
    if order.trail_amount:
        return extreme - order.trail_amount if order.side is Side.SELL else extreme + order.trail_amount
    pct = order.trail_percent / 100.0
    return extreme * (1 - pct) if order.side is Side.SELL else extreme * (1 + pct)


def tighter(side: Side, new: float, old: float | None) -> bool:
    """Return True when ``new`` is a tighter trailing stop than ``old`` (stops only ever tighten)."""
    return old is None or (new > old if side is Side.SELL else new < old)


def oco_priority(cand: Candidate, seq: int) -> tuple[bool, bool, int]:
    """Sort key choosing the OCO leg that filled first: an open gap, else the stop leg (conservative), else the oldest."""
    return (not cand.at_open, cand.order.order_type not in STOP_TYPES, seq)
