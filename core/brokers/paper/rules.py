"""The paper broker's order rules: validation, funds, sizing at the fill, trailing-stop state.

A mixin of :class:`core.brokers.paper.broker.PaperBroker` (kept apart so each file stays small).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.brokers import events as ev
from core.brokers.base import InsufficientFunds, OrderRejected
from core.brokers.paper.matching import tighter, trail_stop_price
from core.domain import Order, OrderType, Side, TimeInForce
from core.portfolio.portfolio import floor_to_lot


@dataclass
class Work:
    """Matching state the Order value does not carry."""

    active: bool = True
    seq: int = 0
    triggered: bool = False
    extreme: float | None = None
    first_day: date | None = None
    met_market: bool = False


class PaperRules:
    """Validation, funds checks, fill-time sizing and trailing stops of the paper broker."""

    def _size_at_fill(self, order: Order, fraction: float, price: float, maker: bool) -> float:
        pf = self.portfolio
        budget = min(fraction * pf.equity(), pf.available())
        unit = price + price * self.fill_model.fee_rate(maker)
        # Whole lots (whole units when the instrument is unknown), floored like backtesting.py's int(x // y).
        lot = self._lot(order.symbol) or 1.0
        return max(0.0, ((budget - self.fill_model.commission) // (unit * lot)) * lot) if unit > 0 else 0.0

    def _affordable(self, order: Order, qty: float, price: float, maker: bool) -> bool:
        pf = self.portfolio
        held = pf.quantity(order.symbol)
        signed = order.side.sign * qty
        opening = abs(held + signed) - abs(held)  # how much the fill adds to gross size
        if opening <= 1e-12:
            return True  # reducing a position always goes through
        cost = opening * price + self.fill_model.fee(qty, price, maker)
        return cost * (self.fill_model.short_margin if order.side is Side.SELL else 1.0) <= pf.available() + 1e-6

    def _validate(self, order: Order) -> Order:
        caps = self._caps
        if order.order_type not in caps.order_types:
            raise OrderRejected(f"{order.order_type} orders are not supported here; the order manager emulates them")
        if order.time_in_force not in caps.time_in_force:
            raise OrderRejected(f"time in force {order.time_in_force} is not supported here")
        if order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK) and order.order_type not in (OrderType.MARKET, OrderType.LIMIT):
            raise OrderRejected("IOC and FOK need a market or limit order")
        need = {OrderType.LIMIT: ("limit_price",), OrderType.STOP: ("stop_price",), OrderType.STOP_LIMIT: ("stop_price", "limit_price")}
        for name in need.get(order.order_type, ()):
            if getattr(order, name) is None or getattr(order, name) <= 0:
                raise OrderRejected(f"a {order.order_type} order needs a positive {name}")
        if order.order_type is OrderType.TRAILING_STOP and not ((order.trail_amount or 0) > 0) ^ ((order.trail_percent or 0) > 0):
            raise OrderRejected("a trailing stop needs exactly one of trail_amount or trail_percent (> 0)")
        if order.parent_id and order.parent_id not in self._orders:
            raise OrderRejected(f"unknown parent order {order.parent_id!r}: submit the entry before its exits")
        qty = floor_to_lot(order.quantity, self._lot(order.symbol))
        if qty <= 0 and not order.parent_id:
            raise OrderRejected(f"quantity {order.quantity:g} rounds to 0 lots of {self._lot(order.symbol):g}")
        limit = self._tick(order.symbol, order.limit_price) if order.limit_price is not None else None
        stop = self._tick(order.symbol, order.stop_price) if order.stop_price is not None else None
        if (qty, limit, stop) != (order.quantity, order.limit_price, order.stop_price):  # a copy only when rounding changed something
            order = order.evolve(quantity=qty, limit_price=limit, stop_price=stop)
        if order.side is Side.SELL and not caps.shorting and self.portfolio.quantity(order.symbol) < qty:
            raise OrderRejected("this venue does not allow short selling")
        if "size_fraction" not in order.tags and not order.parent_id:
            self._check_funds(order)
        return order

    def _check_funds(self, order: Order) -> None:
        ref = order.limit_price or order.stop_price or (self._last_bar[order.symbol].close if order.symbol in self._last_bar else None)
        if ref is None:
            return  # nothing to price it with yet; checked again at fill
        held = self.portfolio.quantity(order.symbol)
        signed = order.side.sign * order.quantity
        opening = abs(held + signed) - abs(held)
        if opening <= 1e-12:
            return
        cost = opening * ref + self.fill_model.fee(order.quantity, ref, order.order_type is OrderType.LIMIT)
        if order.side is Side.SELL:
            cost *= self.fill_model.short_margin
        free = self.portfolio.available() - self._reserved()
        if cost > free + 1e-6:
            raise InsufficientFunds(f"insufficient funds: {order.side} {order.quantity:g} {order.symbol} needs ~{cost:,.2f}, {free:,.2f} available")

    def _reserved(self) -> float:
        total = 0.0
        for o in self.open_orders():
            if o.side is Side.BUY and self._work[o.client_order_id].active and self.portfolio.quantity(o.symbol) >= 0:
                ref = o.limit_price or o.stop_price or (self._last_bar[o.symbol].close if o.symbol in self._last_bar else 0.0)
                total += o.remaining * ref
        return total

    def _init_trail(self, order: Order, work: Work) -> None:
        if work.extreme is None:
            bar = self._last_bar.get(order.symbol)
            work.extreme = bar.close if bar else None
        if work.extreme is not None and order.stop_price is None:
            self._set_trail_stop(order, work)

    def _ratchet(self, order: Order, work: Work, hi: float, lo: float) -> None:
        if order.side is Side.SELL:
            work.extreme = hi if work.extreme is None else max(work.extreme, hi)
        else:
            work.extreme = lo if work.extreme is None else min(work.extreme, lo)
        self._set_trail_stop(order, work)

    def _set_trail_stop(self, order: Order, work: Work) -> None:
        new = trail_stop_price(order, work.extreme)
        if tighter(order.side, new, order.stop_price):
            order = order.evolve(stop_price=new, updated_at=self.clock.now())
            self._orders[order.client_order_id] = order
            self._emit(order, ev.UPDATED, stop_price=new, extreme=work.extreme)

