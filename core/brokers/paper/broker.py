"""The paper broker: a simulated matching engine driven by bars.

It implements :class:`core.brokers.base.Broker`. Orders rest in its book until
:meth:`PaperBroker.on_bar` shows them a bar of their symbol; the rules of when
and at what price they fill are in :mod:`core.brokers.paper.fill_model`. Order lists
use the ``Order`` fields: orders sharing an ``oco_group`` are one-cancels-other;
an order whose ``parent_id`` names another order is held until that parent
fills (a bracket's take-profit and stop-loss are two such children sharing an
OCO group). Every transition is published as an :class:`OrderEvent` stamped by
the injected clock; the order manager persists them.

Sizing at fill time: an order tagged ``{"size_fraction": w}`` is re-sized when
it fills to ``min(w * equity, available) // (price * (1 + fee rate))`` whole lots,
the convention of backtesting.py (and of notional orders at real venues).
"""

from __future__ import annotations

import math
from datetime import datetime

from core.brokers import events as ev
from core.brokers.base import Balance, Capabilities, OrderNotFound, OrderRejected
from core.brokers.book import OrderBook
from core.brokers.events import OrderEvent, OrderListener
from core.brokers.paper.fill_model import FillModel
from core.brokers.paper.matching import Candidate, crossed, limit_fill, oco_priority, stop_fill
from core.brokers.paper.rules import PaperRules, Work
from core.clock import Clock
from core.domain import AssetClass, Bar, Fill, Instrument, Order, OrderStatus, OrderType, Position, Side, TimeInForce
from core.portfolio.portfolio import Portfolio, floor_to_lot

UNSIZED = "insufficient equity for one lot when sizing the order at fill time"
PAPER_CAPABILITIES = Capabilities(
    order_types=frozenset(OrderType),
    time_in_force=frozenset(TimeInForce),
    asset_classes=frozenset(AssetClass),
    oco=True,
    bracket=True,
    shorting=True,
    fractional=True,
)


class PaperBroker(PaperRules):
    """A simulated venue: an order book per symbol, a fill model and a :class:`Portfolio` ledger."""

    name = "paper"
    sizes_at_fill = True  # understands the ``size_fraction`` tag

    def __init__(
        self,
        clock: Clock,
        cash: float = 100_000.0,
        fill_model: FillModel | None = None,
        capabilities: Capabilities = PAPER_CAPABILITIES,
        instruments: dict[str, Instrument] | None = None,
        account: str = "paper",
        currency: str = "USD",
    ) -> None:
        self.clock = clock
        self.fill_model = fill_model or FillModel()
        self._caps = capabilities
        self.instruments = dict(instruments or {})
        self.portfolio = Portfolio(cash=cash, account=account, currency=currency)
        self._orders = OrderBook()
        self._work: dict[str, Work] = {}
        self._fills: list[Fill] = []
        self._last_bar: dict[str, Bar] = {}
        self._listeners: list[OrderListener] = []
        self._seq = 0

    # -- protocol ---------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        """Return what this simulated venue supports natively."""
        return self._caps

    def subscribe(self, listener: OrderListener) -> None:
        """Call ``listener`` with every order event from now on."""
        self._listeners.append(listener)

    def submit(self, order: Order) -> Order:
        """Accept ``order`` into the book (idempotent on ``client_order_id``) or raise with the reason."""
        known = self._orders.get(order.client_order_id)
        if known is not None:
            return known
        now = self.clock.now()
        self._seq += 1
        order = order.evolve(status=OrderStatus.NEW, created_at=order.created_at or now, updated_at=now, venue=self.name,
                             broker_order_id=order.broker_order_id or f"P{self._seq}", filled_quantity=0.0, avg_fill_price=None)
        work = Work(seq=self._seq)
        try:
            order = self._validate(order)
        except OrderRejected as exc:
            self._orders[order.client_order_id] = order.evolve(status=OrderStatus.REJECTED, reason=str(exc))
            self._work[order.client_order_id] = Work(active=False, seq=self._seq)
            self._emit(self._orders[order.client_order_id], ev.REJECTED, reason=str(exc))
            raise
        self._orders[order.client_order_id] = order
        self._work[order.client_order_id] = work
        parent = self._orders.get(order.parent_id) if order.parent_id else None
        if parent is not None and parent.filled_quantity <= 0:
            work.active = False  # held until the parent fills
            if parent.status.is_terminal:
                return self._finish(order, OrderStatus.CANCELED, f"parent {parent.client_order_id} is {parent.status}")
            return order
        if parent is not None:
            order = order.evolve(quantity=parent.filled_quantity)
            self._orders[order.client_order_id] = order
        order = self._transition(order, OrderStatus.ACCEPTED)
        if order.order_type is OrderType.TRAILING_STOP:
            self._init_trail(order, work)
            order = self._orders[order.client_order_id]
        if self.fill_model.market_fill == "close" and order.order_type is OrderType.MARKET and order.symbol in self._last_bar:
            # Close mode: a market order meets the last close right away.
            bar = self._last_bar[order.symbol]
            self._match_symbol(bar, only={order.client_order_id}, ref_open=bar.close, immediate=True)
        return self._orders[order.client_order_id]

    def cancel(self, client_order_id: str) -> Order:
        """Cancel an open order (and, for a bracket entry, its held children)."""
        order = self.get_order(client_order_id)
        if order.status.is_terminal:
            return order
        self._finish(order, OrderStatus.CANCELED, "canceled by request")
        return self._orders[client_order_id]

    def replace(self, client_order_id: str, *, quantity: float | None = None, limit_price: float | None = None, stop_price: float | None = None) -> Order:
        """Amend an open order's quantity or prices; the order keeps its place in the book."""
        order = self.get_order(client_order_id)
        if order.status.is_terminal:
            raise OrderRejected(f"order {client_order_id} is {order.status}; only open orders can be replaced")
        changes: dict[str, float] = {}
        if quantity is not None:
            if quantity < order.filled_quantity:
                raise OrderRejected(f"new quantity {quantity} is below the filled {order.filled_quantity}")
            changes["quantity"] = quantity
        if limit_price is not None:
            changes["limit_price"] = self._tick(order.symbol, limit_price)
        if stop_price is not None:
            changes["stop_price"] = self._tick(order.symbol, stop_price)
        order = order.evolve(updated_at=self.clock.now(), **changes)
        self._orders[client_order_id] = order
        self._emit(order, ev.UPDATED, **changes)
        return order

    def get_order(self, client_order_id: str) -> Order:
        """Return the book's view of one order."""
        try:
            return self._orders[client_order_id]
        except KeyError:
            raise OrderNotFound(f"no paper order with client id {client_order_id!r}") from None

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return working and held orders, oldest first."""
        return self._orders.open_orders(symbol)

    def orders(self) -> list[Order]:
        """Return every order the book has seen, oldest first."""
        return list(self._orders.values())

    @property
    def fill_log(self) -> list[Fill]:
        """The fills themselves, not a copy (read only): per-tick code slices the new ones off the end."""
        return self._fills

    def fills(self, since_client_order_id: str | None = None, *, since: datetime | None = None) -> list[Fill]:
        """Return fills, optionally only those after the last fill of ``since_client_order_id`` and at/after the time ``since``."""
        out = self._fills
        if since_client_order_id is not None:
            idx = max((i for i, f in enumerate(out) if f.client_order_id == since_client_order_id), default=-1)
            out = out[idx + 1 :]
        return [f for f in out if f.ts >= since] if since is not None else list(out)

    def positions(self) -> list[Position]:
        """Return the open positions marked at the last price."""
        return list(self.portfolio.positions.values())

    def balances(self) -> list[Balance]:
        """Return cash: ``free`` excludes what open buy orders would spend."""
        cash = self.portfolio.cash
        return [Balance(self.portfolio.currency, free=cash - self._reserved(), total=cash)]

    # -- the matching engine ------------------------------------------------------
    def on_bar(self, bar: Bar) -> list[Fill]:
        """Show ``bar`` to the resting orders of ``bar.symbol``; return the fills it caused."""
        start = len(self._fills)
        self._expire_day_orders(bar)
        self._match_symbol(bar, only=None, ref_open=bar.open)
        self._last_bar[bar.symbol] = bar
        self.portfolio.mark_bar(bar)
        return self._fills[start:]

    def on_bars(self, bars: list[Bar]) -> list[Fill]:
        """Show bars that share one timestamp: every symbol's open comes before any symbol's close.

        Positions are marked at the opens while orders match (so sizing at a fill
        never uses another symbol's later close) and at the closes afterwards.
        """
        start = len(self._fills)
        for bar in bars:
            self._expire_day_orders(bar)
            self.portfolio.mark(bar.symbol, bar.open)
        for bar in bars:
            self._match_symbol(bar, only=None, ref_open=bar.open)
        for bar in bars:
            self._last_bar[bar.symbol] = bar
            self.portfolio.mark_bar(bar)
        return self._fills[start:]

    def last_bar(self, symbol: str) -> Bar | None:
        """Return the last bar seen for ``symbol``."""
        return self._last_bar.get(symbol)

    def _match_symbol(self, bar: Bar, only: set[str] | None, ref_open: float, immediate: bool = False) -> None:
        if not self._orders.open:
            return  # nothing rests in the book (most bars of a backtest)
        budget = math.inf
        if self.fill_model.max_volume_share is not None:
            budget = floor_to_lot(bar.volume * self.fill_model.max_volume_share, self._lot(bar.symbol))
        pending = [o for o in self.open_orders(bar.symbol) if self._work[o.client_order_id].active and (only is None or o.client_order_id in only)]
        while pending:
            activated: list[str] = []
            candidates = [c for o in pending if (c := self._candidate(o, bar, ref_open, immediate)) is not None]
            for cand in self._resolve_oco(candidates):
                order = self._orders[cand.order.client_order_id]
                if order.status.is_terminal:
                    continue  # an OCO sibling filled earlier in this bar
                budget, kids = self._execute(order, cand, bar, budget)
                activated += kids
            # IOC/FOK met the market once; whatever did not fill is gone.
            for o in pending:
                cur = self._orders[o.client_order_id]
                if cur.time_in_force in (TimeInForce.IOC, TimeInForce.FOK) and not cur.status.is_terminal and self._work[o.client_order_id].met_market:
                    self._finish(cur, OrderStatus.CANCELED, f"{cur.time_in_force.upper()} remainder canceled")
            # Children activated by a fill in this bar trade the rest of it from the parent's price.
            pending = [self._orders[c] for c in activated if not self._orders[c].status.is_terminal]
            if pending:
                parents = [self._orders[p.parent_id] for p in pending if p.parent_id]
                ref_open = parents[0].avg_fill_price or ref_open

    def _candidate(self, order: Order, bar: Bar, ref_open: float, immediate: bool) -> Candidate | None:
        work = self._work[order.client_order_id]
        once = order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
        if once and work.met_market:
            return None
        work.met_market = True
        hi, lo = (ref_open, ref_open) if (once or immediate) else (max(bar.high, ref_open), min(bar.low, ref_open))
        kind = order.order_type
        if kind is OrderType.MARKET:
            return Candidate(order, self.fill_model.slip(ref_open, order.side, bar), True, False)
        if kind is OrderType.LIMIT or (kind is OrderType.STOP_LIMIT and work.triggered):
            return limit_fill(order, ref_open, hi, lo)
        if kind is OrderType.STOP_LIMIT:
            at_open, inside = crossed(order.side, order.stop_price, ref_open, hi, lo)
            if not (at_open or inside):
                return None
            work.triggered = True
            trigger = ref_open if at_open else order.stop_price
            self._emit(order, ev.TRIGGERED, price=trigger)
            if at_open:
                return limit_fill(order, ref_open, hi, lo)
            # Triggered inside the bar: only the trigger price itself is known to have traded after the trigger.
            marketable = trigger <= order.limit_price if order.side is Side.BUY else trigger >= order.limit_price
            return Candidate(order, trigger, False, True) if marketable else None
        cand = stop_fill(order, ref_open, hi, lo, lambda p: self.fill_model.slip(p, order.side, bar))
        if cand is None and kind is OrderType.TRAILING_STOP:
            self._ratchet(order, work, hi, lo)
        return cand

    def _resolve_oco(self, candidates: list[Candidate]) -> list[Candidate]:
        """Keep one candidate per OCO group: the open-gap fill, else the stop leg, else the oldest."""
        groups: dict[str, list[Candidate]] = {}
        for c in candidates:
            if c.order.oco_group:
                groups.setdefault(c.order.oco_group, []).append(c)
        drop: set[str] = set()
        for legs in groups.values():
            if len(legs) > 1:
                best = min(legs, key=lambda c: oco_priority(c, self._work[c.order.client_order_id].seq))
                drop |= {c.order.client_order_id for c in legs if c is not best}
        return [c for c in candidates if c.order.client_order_id not in drop]

    def _execute(self, order: Order, cand: Candidate, bar: Bar, budget: float) -> tuple[float, list[str]]:
        price = cand.price
        quantity = order.remaining
        fraction = order.tags.get("size_fraction")
        if fraction is not None and order.filled_quantity == 0:
            quantity = self._size_at_fill(order, float(fraction), price, cand.maker)
            if quantity <= 0:
                self._finish(order, OrderStatus.CANCELED, UNSIZED)
                return budget, []
            order = order.evolve(quantity=quantity)
            self._orders[order.client_order_id] = order
        take = min(quantity, budget)
        if order.time_in_force is TimeInForce.FOK and take < quantity:
            self._finish(order, OrderStatus.CANCELED, f"FOK: only {take:g} of {quantity:g} available in the bar")
            return budget, []
        if take <= 0:
            return budget, []
        if not self._affordable(order, take, price, cand.maker):
            self._finish(order, OrderStatus.CANCELED, f"insufficient cash at fill: {take:g} {order.symbol} at {price:.4f}")
            return budget, []
        fee = self.fill_model.fee(take, price, cand.maker)
        fill = Fill(
            fill_id=f"{order.client_order_id}-{len(self._fills) + 1}",
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=take,
            price=price,
            fee=fee,
            ts=self.clock.now(),
            venue=self.name,
            liquidity="maker" if cand.maker else "taker",
        )
        self._fills.append(fill)
        self.portfolio.apply_fill(fill)
        filled = order.filled_quantity + take
        avg = ((order.avg_fill_price or 0.0) * order.filled_quantity + price * take) / filled
        done = filled >= order.quantity - 1e-12
        order = order.evolve(filled_quantity=filled, avg_fill_price=avg, updated_at=fill.ts)
        self._orders[order.client_order_id] = order
        self._transition(order, OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED, fill_id=fill.fill_id, quantity=take, price=price, fee=fee)
        if order.oco_group:
            for sib in self.open_orders(order.symbol):
                if sib.oco_group == order.oco_group and sib.client_order_id != order.client_order_id:
                    self._finish(sib, OrderStatus.CANCELED, f"OCO: {order.client_order_id} filled")
        return budget - take, self._activate_children(self._orders[order.client_order_id])

    def _activate_children(self, parent: Order) -> list[str]:
        out = []
        for child in self.open_orders(parent.symbol):
            if child.parent_id != parent.client_order_id:
                continue
            work = self._work[child.client_order_id]
            if child.quantity != parent.filled_quantity:
                child = child.evolve(quantity=parent.filled_quantity)
                self._orders[child.client_order_id] = child
            if not work.active:
                work.active = True
                self._transition(child, OrderStatus.ACCEPTED, activated_by=parent.client_order_id)
                if child.order_type is OrderType.TRAILING_STOP:
                    work.extreme = parent.avg_fill_price
                    self._init_trail(self._orders[child.client_order_id], work)
                out.append(child.client_order_id)
        return out

    # -- helpers ----------------------------------------------------------------------
    def _expire_day_orders(self, bar: Bar) -> None:
        if not self._orders.open:
            return
        day = bar.ts.date()
        for order in self.open_orders(bar.symbol):
            work = self._work[order.client_order_id]
            if order.time_in_force is not TimeInForce.DAY or not work.active:
                continue
            if work.first_day is None:
                work.first_day = day
            elif day > work.first_day:
                self._finish(order, OrderStatus.EXPIRED, f"DAY order not filled on {work.first_day}")

    def _finish(self, order: Order, status: OrderStatus, reason: str) -> Order:
        order = self._transition(order.evolve(reason=reason), status, reason=reason)
        self._work[order.client_order_id].active = False
        if status is not OrderStatus.FILLED:
            for child in self.open_orders(order.symbol):
                if child.parent_id == order.client_order_id and not self._work[child.client_order_id].active and order.filled_quantity <= 0:
                    self._finish(child, OrderStatus.CANCELED, f"parent {order.client_order_id} {status} without a fill")
        return order

    def _transition(self, order: Order, status: OrderStatus, **detail: object) -> Order:
        order = order.evolve(status=status, updated_at=self.clock.now())
        self._orders[order.client_order_id] = order
        self._emit(order, ev.EVENT_FOR_STATUS[status], **detail)
        return order

    def _emit(self, order: Order, event: str, **detail: object) -> None:
        if not self._listeners:
            return
        e = OrderEvent(order.client_order_id, self.clock.now(), event, order.status, {k: v for k, v in detail.items() if v is not None})
        for listener in self._listeners:
            listener(e)

    def _lot(self, symbol: str) -> float:
        # Unknown instruments take any quantity; give an Instrument to enforce a lot size.
        inst = self.instruments.get(symbol)
        return inst.lot_size if inst is not None else 0.0

    def _tick(self, symbol: str, price: float) -> float:
        inst = self.instruments.get(symbol)
        if inst is None or inst.tick_size <= 0:
            return price
        return round(round(price / inst.tick_size) * inst.tick_size, 10)
