"""Emulation of order types and order lists a venue lacks natively.

* **Trailing stop** on a venue with plain stops: the manager keeps the trailing
  order and works a native stop (client ID ``<id>~stop``) whose price it ratchets
  with :meth:`Broker.replace` after each bar, in the same order as the paper
  broker's native trailing stop (check first, ratchet after), so both give the
  same fills.
* **OCO** on a venue without order lists: both legs go out as plain orders; after
  each bar the manager cancels the sibling of a leg that got a fill. Between two
  polls both legs can fill: emulation is only as tight as the polling.
* **Bracket** on a venue without brackets: the exits are held by the manager and
  sent (as an OCO pair, native or emulated) once the entry has a fill. They start
  working from the bar after the entry's fill (native paper brackets can already
  exit inside the entry's bar).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from core.brokers import events as ev
from core.brokers.base import Broker, OrderRejected
from core.brokers.paper.matching import tighter, trail_stop_price
from core.domain import Bar, Order, OrderStatus, OrderType, Side


class OrderDesk(Protocol):
    """What the emulator may do with its owner's orders (the order manager hands it exactly this, not itself)."""

    broker: Broker
    last_prices: dict[str, float]

    def get(self, client_order_id: str) -> Order | None:
        """Return the owner's view of one order."""

    def send(self, order: Order) -> Order:
        """Place a native order at the venue (with the owner's retry and unknown-state rules)."""

    def replace(self, client_order_id: str, **changes: float | None) -> Order:
        """Amend a native order at the venue (a trailing stop's new stop price)."""

    def cancel(self, client_order_id: str) -> Order:
        """Cancel an order (an OCO group's other legs)."""

    def save(self, order: Order) -> None:
        """Keep an order that stays local (held until its trigger) in the owner's book and store."""

    def record(self, order: Order, event: str, **detail: Any) -> None:
        """Store a new state of an order with its event."""

    def observe(self, venue: Order, event: str | None = None, **detail: Any) -> None:
        """Merge the venue's view of one order."""


@dataclass
class _Trail:
    order_id: str
    native_id: str
    extreme: float | None = None
    placed: bool = False


def _extreme_for(order: Order, stop: float) -> float:
    """Return the best price that put a trailing stop at ``stop`` (inverse of ``trail_stop_price``)."""
    if order.trail_amount:
        return stop + order.trail_amount if order.side is Side.SELL else stop - order.trail_amount
    pct = order.trail_percent / 100.0
    return stop / (1 - pct) if order.side is Side.SELL else stop / (1 + pct)


class Emulator:
    """Holds the emulated orders of one order manager (seen through the narrow :class:`OrderDesk`)."""

    def __init__(self, manager: OrderDesk) -> None:
        self.m = manager
        self._trails: dict[str, _Trail] = {}
        self._groups: dict[str, list[str]] = {}
        self._held: dict[str, Order] = {}

    def _caps(self):
        return self.m.broker.capabilities()

    def restore(self, orders: list[Order]) -> None:
        """Pick up the emulated orders of a previous run from their stored state (after a restart)."""
        groups: dict[str, list[Order]] = {}
        for order in orders:
            if order.tags.get("emulated_oco"):
                groups.setdefault(order.tags["emulated_oco"], []).append(order)
            if order.status.is_terminal:
                continue
            kind = order.tags.get("emulated")
            if kind == "held":
                self._held[order.client_order_id] = order.evolve(tags={k: v for k, v in order.tags.items() if k != "emulated"})
            elif kind == "trailing":
                native_id = f"{order.client_order_id}~stop"
                extreme = None if order.stop_price is None else _extreme_for(order, order.stop_price)
                self._trails[order.client_order_id] = _Trail(order.client_order_id, native_id, extreme, placed=self.m.get(native_id) is not None)
        for group, legs in groups.items():
            if any(not leg.status.is_terminal for leg in legs):
                self._groups[group] = [leg.client_order_id for leg in legs]

    def handles(self, order: Order) -> bool:
        """Return True when ``order`` needs emulation at this venue."""
        caps = self._caps()
        if order.order_type is OrderType.TRAILING_STOP and not caps.supports(OrderType.TRAILING_STOP):
            return True
        if order.parent_id and not caps.bracket:
            return True
        return bool(order.oco_group and not caps.oco)

    def owns(self, client_order_id: str) -> bool:
        """Return True for orders the manager works itself (not sent as such to the venue)."""
        return client_order_id in self._trails or client_order_id in self._held

    def submit(self, order: Order) -> Order:
        """Start emulating ``order``."""
        caps = self._caps()
        if order.parent_id and not caps.bracket:
            parent = self.m.get(order.parent_id)
            if parent is None or parent.filled_quantity <= 0:
                self._held[order.client_order_id] = order
                held = order.evolve(tags={**order.tags, "emulated": "held"})
                self.m.save(held)
                return held
            order = order.evolve(quantity=parent.filled_quantity, parent_id=None)
        if order.oco_group and not caps.oco:
            self._groups.setdefault(order.oco_group, []).append(order.client_order_id)
            order = order.evolve(tags={**order.tags, "emulated_oco": order.oco_group}, oco_group=None)
        if order.order_type is OrderType.TRAILING_STOP and not caps.supports(OrderType.TRAILING_STOP):
            return self._start_trail(order)
        return self.m.send(order)

    def cancel(self, client_order_id: str) -> Order:
        """Cancel an emulated order and whatever works it at the venue."""
        if client_order_id in self._held:
            order = self._held.pop(client_order_id)
            self.m.record(order.evolve(status=OrderStatus.CANCELED, reason="canceled by request"), ev.CANCELED)
            return self.m.get(client_order_id)
        trail = self._trails.pop(client_order_id)
        if trail.placed:
            native = self.m.broker.cancel(trail.native_id)
            self.m.observe(native)
        order = self.m.get(client_order_id)
        self.m.record(order.evolve(status=OrderStatus.CANCELED, reason="canceled by request"), ev.CANCELED)
        return self.m.get(client_order_id)

    # -- trailing stops --------------------------------------------------------------
    def _start_trail(self, order: Order) -> Order:
        if not self._caps().supports(OrderType.STOP):
            self.m.record(order.evolve(status=OrderStatus.REJECTED, reason="venue has neither trailing stops nor stops to emulate them with"), ev.REJECTED)
            return self.m.get(order.client_order_id)
        trail = _Trail(order.client_order_id, f"{order.client_order_id}~stop", extreme=self.m.last_prices.get(order.symbol))
        self._trails[order.client_order_id] = trail
        self.m.record(order.evolve(status=OrderStatus.ACCEPTED, tags={**order.tags, "emulated": "trailing"}), ev.ACCEPTED, emulated=True)
        if trail.extreme is not None:
            self._place_stop(trail)
        return self.m.get(order.client_order_id)

    def _place_stop(self, trail: _Trail) -> None:
        order = self.m.get(trail.order_id)
        stop = trail_stop_price(order, trail.extreme)
        native = Order(trail.native_id, order.symbol, order.side, order.remaining, OrderType.STOP, stop_price=stop, time_in_force=order.time_in_force,
                       oco_group=None, tags={"emulates": order.client_order_id})
        try:
            sent = self.m.broker.submit(native)
        except OrderRejected as exc:
            self._trails.pop(trail.order_id, None)
            self.m.record(order.evolve(status=OrderStatus.REJECTED, reason=str(exc)), ev.REJECTED, reason=str(exc))
            return
        self.m.observe(sent)
        trail.placed = True
        self.m.record(order.evolve(stop_price=stop), ev.UPDATED, stop_price=stop)

    def _step_trail(self, trail: _Trail, bar: Bar) -> None:
        order = self.m.get(trail.order_id)
        if trail.placed:
            native = self.m.get(trail.native_id)
            if native.filled_quantity != order.filled_quantity or native.status.is_terminal:
                status = native.status if native.status.is_terminal or native.filled_quantity <= 0 else OrderStatus.PARTIALLY_FILLED
                order = order.evolve(filled_quantity=native.filled_quantity, avg_fill_price=native.avg_fill_price, status=status)
                self.m.record(order, ev.UPDATED if status is OrderStatus.NEW else ev.EVENT_FOR_STATUS.get(status, ev.UPDATED), price=native.avg_fill_price)
                self._after_fill(order)
            if native.status.is_terminal:
                self._trails.pop(trail.order_id, None)
                return
        if bar.symbol != order.symbol:
            return
        hi, lo = bar.high, bar.low
        old = trail.extreme
        trail.extreme = (hi if old is None else max(old, hi)) if order.side is Side.SELL else (lo if old is None else min(old, lo))
        if not trail.placed:
            self._place_stop(trail)
            return
        new = trail_stop_price(order, trail.extreme)
        current = self.m.get(trail.native_id).stop_price
        if tighter(order.side, new, current):
            self.m.replace(trail.native_id, stop_price=new)
            self.m.record(self.m.get(trail.order_id).evolve(stop_price=new), ev.UPDATED, stop_price=new)

    # -- order lists ---------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        """React to what the broker did during ``bar``."""
        for trail in list(self._trails.values()):
            if self.m.get(trail.order_id).symbol == bar.symbol:
                self._step_trail(trail, bar)
        for group, ids in list(self._groups.items()):
            legs = [self.m.get(i) for i in ids]
            if any(leg.filled_quantity > 0 for leg in legs):
                for leg in legs:
                    if leg.filled_quantity <= 0 and not leg.status.is_terminal:
                        self.m.cancel(leg.client_order_id)
                del self._groups[group]
        for parent_id in {c.parent_id for c in self._held.values()}:
            parent = self.m.get(parent_id)
            if parent is not None and parent.filled_quantity > 0:
                self._after_fill(parent)
        for cid, child in list(self._held.items()):
            parent = self.m.get(child.parent_id)
            if parent is not None and parent.status.is_terminal and parent.filled_quantity <= 0:
                del self._held[cid]
                self.m.record(child.evolve(status=OrderStatus.CANCELED, reason=f"parent {parent.client_order_id} {parent.status} without a fill"), ev.CANCELED)

    def _after_fill(self, parent: Order) -> None:
        for cid, child in list(self._held.items()):
            if child.parent_id == parent.client_order_id and parent.filled_quantity > 0:
                del self._held[cid]
                self.submit(child.evolve(quantity=parent.filled_quantity, parent_id=None, tags={**child.tags, "parent": parent.client_order_id}))
