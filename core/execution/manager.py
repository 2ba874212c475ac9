"""The order manager: the only way orders reach a broker.

Every new order passes the pre-trade ``risk_check`` hook, a required argument (a veto
is recorded as rejected with a typed :class:`~core.brokers.events.OrderDenied` and
never sent; a shrink is sent with the smaller quantity). Running without limits means
passing :data:`core.risk.hook.UNLIMITED` explicitly. Client order IDs are idempotency
keys: submitting an ID the manager (or the store, so across restarts) already knows
returns the existing order. Order types and order lists the venue lacks (see its
:class:`~core.brokers.base.Capabilities`) are emulated here (:mod:`core.execution.emulation`).
:meth:`OrderManager.reconcile` treats the broker as the source of truth. A send whose
outcome is unknown (it may have reached the venue, which then could not be asked) is
never sent again: the order stays open, marked pending reconciliation, until
:meth:`OrderManager.sync` or :meth:`OrderManager.reconcile` finds it at the venue (or
confirms it is not there). Every transition is persisted to ``order_events`` with the
injected clock's timestamp when a store is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.brokers import events as ev
from core.brokers.base import Balance, Broker, OrderNotFound, OrderRejected, RetryableBrokerError
from core.brokers.book import OrderBook
from core.brokers.events import OrderDenied, OrderEvent
from core.brokers.retry import OrderStateUnknown
from core.clock import Clock
from core.domain import Bar, Order, OrderStatus, OrderType, Position
from core.execution import repo
from core.execution.emulation import Emulator
from core.risk.hook import RiskCheck
from core.store import Store


@dataclass(frozen=True)
class OrderContext:
    """What the pre-trade risk hook sees besides the order itself."""

    now: datetime
    account: str
    positions: dict[str, Position]
    balances: list[Balance]
    open_orders: list[Order]
    last_prices: dict[str, float]
    equity: float


#: Tag of an order whose send may have reached the venue; reconciliation settles it.
PENDING_RECONCILE = "pending_reconcile"


@dataclass
class ReconcileReport:
    """What :meth:`OrderManager.reconcile` changed to match the broker."""

    updated: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Return True when the local view differed from the broker's."""
        return bool(self.updated or self.adopted or self.missing)


class OrderManager:
    """Submit, amend, cancel, emulate and reconcile orders against one broker account."""

    def __init__(
        self,
        broker: Broker,
        clock: Clock,
        risk_check: RiskCheck,
        store: Store | None = None,
        account: str = "paper",
        context_fn: Callable[[Order], Any] | None = None,
        reconcile_on_start: bool = True,
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.broker = broker
        self.clock = clock
        self.store = store
        self.account = account
        if risk_check is None or not callable(risk_check):
            raise TypeError("OrderManager needs a risk check: a RiskEngine hook (core.engine.risk_gate) or, explicitly, core.risk.hook.UNLIMITED")
        self.risk_check = risk_check
        self.denials: list[OrderDenied] = []
        self.context_fn = context_fn or self._default_context
        self.retries = retries
        self._sleep = sleep
        self._orders = OrderBook()
        self._events: list[OrderEvent] = []
        self.last_prices: dict[str, float] = {}
        self.emulator = Emulator(_Desk(self))
        if store is not None:
            for order in repo.load_orders(store, account):
                self._orders[order.client_order_id] = order
            self.emulator.restore(list(self._orders.values()))
        subscribe = getattr(broker, "subscribe", None)
        self._push = callable(subscribe)  # the broker reports every transition itself
        if self._push:
            subscribe(self._on_broker_event)
        if reconcile_on_start and self._orders:
            self.reconcile()

    def restore(self) -> None:
        """Load this account's stored orders (after a restart) and re-arm the emulated ones (OCO, trailing stops, brackets)."""
        if self.store is None:
            return
        for order in repo.load_orders(self.store, self.account):
            self._orders[order.client_order_id] = order
        self.emulator.restore(list(self._orders.values()))

    # -- reading ------------------------------------------------------------------
    def get(self, client_order_id: str) -> Order | None:
        """Return the manager's view of one order (None when unknown)."""
        return self._orders.get(client_order_id)

    def orders(self, since: int = 0) -> list[Order]:
        """Return the orders this manager knows, oldest first, from the ``since``-th on (O(new orders)); ``len(manager)`` counts them."""
        return self._orders.since(since)

    def __len__(self) -> int:
        return len(self._orders)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return orders that are not in a terminal state."""
        return self._orders.open_orders(symbol)

    def events(self, client_order_id: str | None = None) -> list[OrderEvent]:
        """Return recorded events (from the store when there is one)."""
        if self.store is not None:
            return repo.load_events(self.store, client_order_id)
        return [e for e in self._events if client_order_id is None or e.client_order_id == client_order_id]

    # -- submitting -------------------------------------------------------------------
    def submit(self, order: Order) -> Order:
        """Risk-check and send ``order``; return the existing order if its client ID is known."""
        known = self._known(order.client_order_id)
        if known is not None:
            return known
        order = order.evolve(status=OrderStatus.NEW, created_at=order.created_at or self.clock.now(), updated_at=self.clock.now(), filled_quantity=0.0)
        decision = self.risk_check(order, self.context_fn(order))
        if not decision.allowed:
            reason = decision.reason or "vetoed by risk check"
            limit = ", ".join(c for c in decision.checks if "veto" in c or "limit" in c) or ", ".join(decision.checks)
            self.denials.append(OrderDenied(order.client_order_id, reason, limit, self.clock.now()))
            rejected = order.evolve(status=OrderStatus.REJECTED, reason=f"risk: {reason}")
            self._record(rejected, ev.DENIED, reason=reason, limit=limit)
            return self._orders[order.client_order_id]
        if decision.quantity < order.quantity - 1e-12:
            tags = {k: v for k, v in order.tags.items() if k != "size_fraction"}  # the shrunk size is final
            order = order.evolve(quantity=decision.quantity, tags={**tags, "risk_shrunk_from": order.quantity})
        self._save(order)
        if self.emulator.handles(order):
            return self.emulator.submit(order)
        return self._send(order)

    def submit_oco(self, first: Order, second: Order, group: str | None = None) -> tuple[Order, Order]:
        """Submit two orders where a fill of one cancels the other."""
        group = group or f"oco-{first.client_order_id}"
        return self.submit(first.evolve(oco_group=group)), self.submit(second.evolve(oco_group=group))

    def submit_bracket(self, entry: Order, take_profit: float | None = None, stop_loss: float | None = None,
                       trail_amount: float | None = None, trail_percent: float | None = None) -> list[Order]:
        """Submit ``entry`` plus exits held until it fills: a take-profit limit and a stop-loss (or trailing stop), as an OCO pair."""
        out = [self.submit(entry)]
        exit_side = entry.side.opposite()
        group = f"bracket-{entry.client_order_id}"
        base = {"symbol": entry.symbol, "side": exit_side, "quantity": entry.quantity, "parent_id": entry.client_order_id, "oco_group": group}
        if take_profit is not None:
            out.append(self.submit(Order(f"{entry.client_order_id}-tp", order_type=OrderType.LIMIT, limit_price=take_profit, **base)))
        if stop_loss is not None or trail_amount is not None or trail_percent is not None:
            if trail_amount is not None or trail_percent is not None:
                stop = Order(f"{entry.client_order_id}-sl", order_type=OrderType.TRAILING_STOP, trail_amount=trail_amount, trail_percent=trail_percent, **base)
            else:
                stop = Order(f"{entry.client_order_id}-sl", order_type=OrderType.STOP, stop_price=stop_loss, **base)
            out.append(self.submit(stop))
        return out

    def cancel(self, client_order_id: str) -> Order:
        """Cancel an open order (native or emulated)."""
        if self.emulator.owns(client_order_id):
            return self.emulator.cancel(client_order_id)
        order = self.broker.cancel(client_order_id)
        self._observe(order)
        return self._orders.get(client_order_id, order)

    def replace(self, client_order_id: str, **changes: float | None) -> Order:
        """Risk-check and amend an open order's quantity or prices at the broker.

        The amended order is checked like a new one (what is left to fill after the
        change, at the new prices): a veto leaves the order as it was (an
        ``OrderReplaceRejected`` event says why), a shrink amends to the smaller size.
        """
        changes = {k: v for k, v in changes.items() if v is not None}
        current = self._known(client_order_id) or self.broker.get_order(client_order_id)
        amended = current.evolve(**changes)
        filled = current.filled_quantity
        probe = amended.evolve(quantity=max(amended.quantity - filled, 0.0), filled_quantity=0.0)
        decision = self.risk_check(probe, self.context_fn(probe))
        if not decision.allowed:
            reason = f"risk: {decision.reason or 'vetoed by risk check'}"
            self._record(current, ev.REPLACE_REJECTED, reason=reason, checks=", ".join(decision.checks), **changes)
            return self._orders[client_order_id]
        detail: dict[str, float] = {}
        if decision.quantity < probe.quantity - 1e-12:
            changes["quantity"] = filled + decision.quantity
            detail["risk_shrunk_from"] = amended.quantity
        order = self.broker.replace(client_order_id, **changes)
        if self._push:
            self._orders[client_order_id] = order  # the broker's event was recorded already
        else:
            self._observe(order, ev.UPDATED, **changes, **detail)
        return order

    def _send(self, order: Order) -> Order:
        for attempt in range(self.retries + 1):
            try:
                sent = self.broker.submit(order)
                self._observe(sent)
                return self._orders[order.client_order_id]
            except OrderRejected as exc:
                current = self._orders.get(order.client_order_id, order)
                if current.status is not OrderStatus.REJECTED:
                    self._record(order.evolve(status=OrderStatus.REJECTED, reason=str(exc)), ev.REJECTED, reason=str(exc))
                return self._orders[order.client_order_id]
            except OrderStateUnknown as exc:
                return self._pending_reconcile(order, exc)
            except RetryableBrokerError as exc:
                # Look before retrying: the first attempt may have reached the venue.
                try:
                    found = self.broker.get_order(order.client_order_id)
                    self._observe(found)
                    return self._orders[order.client_order_id]
                except OrderNotFound:
                    pass  # confirmed absent: sending again cannot double it
                except RetryableBrokerError as lookup_exc:
                    return self._pending_reconcile(order, lookup_exc)
                if attempt == self.retries:
                    raise
                self._sleep(exc.retry_after if exc.retry_after is not None else 0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def _pending_reconcile(self, order: Order, exc: Exception) -> Order:
        """Leave an order that may have reached the venue open, for reconciliation; never resend it."""
        reason = f"state unknown, pending reconciliation: {exc}"
        self._record(order.evolve(status=OrderStatus.NEW, reason=reason, tags={**order.tags, PENDING_RECONCILE: True}),
                     ev.STATE_UNKNOWN, reason=reason)
        return self._orders[order.client_order_id]

    # -- driving -----------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        """Update emulated orders after the broker has seen ``bar`` (call once per bar and symbol)."""
        self.last_prices[bar.symbol] = bar.close
        self.sync()
        self.emulator.on_bar(bar)

    def sync(self) -> None:
        """Poll the broker for changes to the open native orders (brokers without push events)."""
        if self._push:
            return
        for order in self.open_orders():
            if self.emulator.owns(order.client_order_id):
                continue
            try:
                self._observe(self.broker.get_order(order.client_order_id))
            except OrderNotFound:
                if order.tags.get(PENDING_RECONCILE):
                    self._record(order.evolve(status=OrderStatus.CANCELED, reason="never reached the venue"), ev.RECONCILED, reason="never reached the venue")

    def reconcile(self) -> ReconcileReport:
        """Make the local view match the broker's: update, adopt unknown orders, close missing ones."""
        report = ReconcileReport()
        venue_open = {o.client_order_id: o for o in self.broker.open_orders()}
        for order in self.open_orders():
            cid = order.client_order_id
            if self.emulator.owns(cid) or (order.status is OrderStatus.NEW and order.tags.get("emulated")):
                continue
            try:
                venue = venue_open.get(cid) or self.broker.get_order(cid)
            except OrderNotFound:
                self._record(order.evolve(status=OrderStatus.CANCELED, reason="unknown at the venue"), ev.RECONCILED, reason="unknown at the venue")
                report.missing.append(cid)
                continue
            if (venue.status, venue.filled_quantity) != (order.status, order.filled_quantity):
                self._record(self._with_local(venue), ev.RECONCILED, was=str(order.status), filled=venue.filled_quantity)
                report.updated.append(cid)
        for cid, venue in venue_open.items():
            if cid not in self._orders:
                self._record(venue, ev.RECONCILED, adopted=True)
                report.adopted.append(cid)
        report.positions = list(self.broker.positions())
        return report

    # -- bookkeeping ---------------------------------------------------------------------
    def _known(self, client_order_id: str) -> Order | None:
        order = self._orders.get(client_order_id)
        if order is None and self.store is not None:
            order = repo.load_order(self.store, client_order_id)
            if order is not None:
                self._orders[client_order_id] = order
        return order

    def _on_broker_event(self, event: OrderEvent) -> None:
        try:
            order = self.broker.get_order(event.client_order_id)
        except OrderNotFound:
            return
        order = self._with_local(order)
        self._orders[order.client_order_id] = order
        self._persist(order, event)

    def _with_local(self, venue: Order) -> Order:
        """Return the venue's view of an order with what only we know kept (tags, reason, bracket and OCO links).

        A venue knows status, quantities and prices; our tags (a protective stop, a target's
        direction) and links would otherwise be lost on the first poll or reconciliation.
        """
        local = self._orders.get(venue.client_order_id)
        if local is None or venue is local:
            return venue
        return venue.evolve(tags={**local.tags, **(venue.tags or {})}, reason=venue.reason or local.reason,
                            parent_id=venue.parent_id or local.parent_id, oco_group=venue.oco_group or local.oco_group)

    def _observe(self, venue: Order, event: str | None = None, **detail: object) -> None:
        """Merge the broker's view of one order, recording an event when it changed."""
        venue = self._with_local(venue)
        local = self._orders.get(venue.client_order_id)
        changed = local is None or (venue.status, venue.filled_quantity) != (local.status, local.filled_quantity)
        if event is None and not changed:
            self._orders[venue.client_order_id] = venue
            return
        self._record(venue, event or (ev.UPDATED if venue.status is OrderStatus.NEW else ev.EVENT_FOR_STATUS[venue.status]), **detail)

    def _record(self, order: Order, event: str, **detail: object) -> None:
        order = order.evolve(updated_at=self.clock.now())
        self._orders[order.client_order_id] = order
        self._persist(order, OrderEvent(order.client_order_id, self.clock.now(), event, order.status, {k: v for k, v in detail.items() if v not in (None, "")}))

    def _persist(self, order: Order, event: OrderEvent) -> None:
        if self.store is None:
            self._events.append(event)
        else:
            repo.save_order(self.store, order, self.account)
            repo.save_event(self.store, event)

    def _save(self, order: Order) -> None:
        self._orders[order.client_order_id] = order
        if self.store is not None:
            repo.save_order(self.store, order, self.account)

    def _default_context(self, order: Order) -> OrderContext:
        positions = {p.symbol: p for p in self.broker.positions()}
        balances = list(self.broker.balances())
        portfolio = getattr(self.broker, "portfolio", None)
        equity = portfolio.equity() if portfolio is not None else sum(b.total for b in balances) + sum(p.market_value for p in positions.values())
        return OrderContext(self.clock.now(), self.account, positions, balances, self.open_orders(), dict(self.last_prices), equity)


class _Desk:
    """The emulator's narrow view of its manager (:class:`~core.execution.emulation.OrderDesk`): seven operations, not the manager."""

    def __init__(self, manager: OrderManager) -> None:
        self._m = manager

    @property
    def broker(self) -> Broker:
        return self._m.broker

    @property
    def last_prices(self) -> dict[str, float]:
        return self._m.last_prices

    def get(self, client_order_id: str) -> Order | None:
        return self._m.get(client_order_id)

    def send(self, order: Order) -> Order:
        return self._m._send(order)

    def replace(self, client_order_id: str, **changes: float | None) -> Order:
        return self._m.replace(client_order_id, **changes)

    def cancel(self, client_order_id: str) -> Order:
        return self._m.cancel(client_order_id)

    def save(self, order: Order) -> None:
        self._m._save(order)

    def record(self, order: Order, event: str, **detail: object) -> None:
        self._m._record(order, event, **detail)

    def observe(self, venue: Order, event: str | None = None, **detail: object) -> None:
        self._m._observe(venue, event, **detail)
