"""Position-level protective stops: every position the engine holds carries a stop order.

After the strategy has decided on a bar, :class:`Protector` makes the resting exit orders of
each symbol match its position (the same code in a backtest and in the paper loop):

* the protected quantity is the part of the position that survives the strategy's pending
  orders (a pending exit or reversal leaves nothing to protect, so the stop is cancelled
  before the exit fills and the two can never both fill);
* the stop is placed once the entry has filled, at the close of that bar, and works from the
  next bar; its price is fixed from the position's average entry price:
  ``percent`` ``entry * (1 - percent)`` for a long (``1 + percent`` for a short),
  ``atr`` ``entry - atr_multiple * ATR`` (ATR = mean true range of the last ``atr_window``
  bars at placement), ``trailing`` a trailing stop ``percent`` behind the best price since;
* ``take_profit_r > 0`` adds a take-profit limit at ``take_profit_r`` times the stop distance
  beyond the entry, the two as one OCO pair (one fill cancels the other);
* when the position changes size, its orders are cancelled and placed again for the new size.

Orders go through the order manager like any other (risk check included: a pure exit is
always approved); a venue without native trailing stops or OCO gets them emulated there.
The client IDs are deterministic, so a restarted loop that replays its bars re-arms the
same stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from core.domain import Order, OrderStatus, OrderType, Side, TimeInForce

if TYPE_CHECKING:
    from core.engine.engine import Engine

PROTECTIVE = "protective"
_EPS = 1e-12


@dataclass(frozen=True)
class StopPolicy:
    """What protective stop a position carries (``risk.stop`` in the settings)."""

    kind: Literal["percent", "atr", "trailing"] = "percent"
    percent: float = 0.05
    atr_multiple: float = 3.0
    atr_window: int = 14
    take_profit_r: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("percent", "atr", "trailing"):
            raise ValueError(f"stop kind must be 'percent', 'atr' or 'trailing', not {self.kind!r}")
        if not 0 < self.percent < 1:
            raise ValueError(f"stop percent is a fraction of the entry price in (0, 1) (0.05 = 5 %), not {self.percent}")
        if not self.atr_multiple > 0 or self.atr_window < 1:
            raise ValueError("stop atr_multiple must be > 0 and atr_window >= 1")
        if self.take_profit_r < 0:
            raise ValueError(f"take_profit_r must be >= 0 (0 = no take-profit), not {self.take_profit_r}")

    @classmethod
    def from_settings(cls, stop: Any) -> StopPolicy | None:
        """Return the policy of a ``StopSettings`` (or its dict), or None when it is switched off."""
        if stop is None:
            return None
        values = stop if isinstance(stop, dict) else stop.model_dump()
        if not values.get("enabled", True):
            return None
        return cls(**{k: values[k] for k in ("kind", "percent", "atr_multiple", "atr_window", "take_profit_r") if k in values})


def standing_tif(broker: Any) -> TimeInForce:
    """Return GTC where ``broker`` keeps orders until cancelled, else DAY (Kite's regular orders are DAY or IOC only).

    The engine's own orders (entries, exits, protective stops) use it, so a venue never refuses them for their validity.
    """
    return TimeInForce.GTC if TimeInForce.GTC in broker.capabilities().time_in_force else TimeInForce.DAY


def mean_true_range(high: Any, low: Any, close: Any, window: int) -> float:
    """Return the mean true range of the last ``window`` bars (the first bar counts its high - low)."""
    n = len(close)
    if n == 0:
        return 0.0
    start = max(0, n - window)
    total = 0.0
    for i in range(start, n):
        tr = high[i] - low[i]
        if i > 0:
            tr = max(tr, abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        total += tr
    return total / (n - start)


class Protector:
    """Keep each position's protective orders in line with the position (see the module docstring)."""

    def __init__(self, policy: StopPolicy) -> None:
        self.policy = policy

    def sync(self, engine: Engine) -> None:
        """Cancel, keep or place the protective orders of every traded symbol after the strategy's decision."""
        for symbol in engine.symbols:
            self._sync_symbol(engine, symbol)

    def release_for(self, engine: Engine, order: Order) -> None:
        """Cancel ``order.symbol``'s working protective orders when ``order`` reduces or reverses the position."""
        pos = engine.portfolio.quantity(order.symbol)
        if abs(pos) <= _EPS or order.side.sign * pos > 0:
            return
        _cancel(engine.manager, [o for o in engine.manager.open_orders(order.symbol) if o.tags.get(PROTECTIVE)])

    def _sync_symbol(self, engine: Engine, symbol: str) -> None:
        manager = engine.manager
        pos = engine.portfolio.quantity(symbol)
        working = manager.open_orders(symbol)
        guards = [o for o in working if o.tags.get(PROTECTIVE)]
        # A venue order working an emulated one ("emulates") is already counted as that order.
        # A bracket's exits count once their entry has filled: they then hold the position as a stop would.
        exits = [o for o in working if not o.tags.get(PROTECTIVE) and not o.tags.get("emulates") and _armed(manager, o)]
        keep = _protected_quantity(pos, exits)
        side = Side.SELL if pos > 0 else Side.BUY
        stops = [o for o in guards if o.tags.get(PROTECTIVE) == "stop"]
        if keep > _EPS and len(stops) == 1 and stops[0].side is side and abs(stops[0].remaining - keep) <= _EPS:
            return  # already protected as it should be
        _cancel(manager, guards)
        if keep > _EPS:
            self._place(engine, symbol, side, keep)

    def _place(self, engine: Engine, symbol: str, side: Side, quantity: float) -> None:
        p = self.policy
        position = engine.portfolio.positions[symbol]
        entry = position.avg_price
        tif = standing_tif(engine.broker)
        if p.kind == "atr":
            hist = engine.histories[symbol]
            distance = p.atr_multiple * mean_true_range(hist.high, hist.low, hist.close, p.atr_window)
        else:
            distance = entry * p.percent
        if distance <= 0:
            return
        sign = 1 if side is Side.SELL else -1  # a sell protects a long: the stop is below the entry
        cid = engine.ctx.next_id(symbol)
        group = f"protect-{cid}" if p.take_profit_r > 0 else None
        common = {"time_in_force": tif, "oco_group": group}
        if p.kind == "trailing":
            stop = Order(f"{cid}-sl", symbol, side, quantity, OrderType.TRAILING_STOP, trail_percent=p.percent * 100,
                         reason=f"protective trailing stop {p.percent:.2%} behind the best price", tags={PROTECTIVE: "stop"}, **common)
        else:
            price = entry - sign * distance
            what = f"{p.percent:.2%}" if p.kind == "percent" else f"{p.atr_multiple:g} ATR"
            stop = Order(f"{cid}-sl", symbol, side, quantity, OrderType.STOP, stop_price=price,
                         reason=f"protective stop {what} from entry {entry:.4f}", tags={PROTECTIVE: "stop"}, **common)
        engine.manager.submit(stop)
        if group is not None:
            target = entry + sign * p.take_profit_r * distance
            engine.manager.submit(Order(f"{cid}-tp", symbol, side, quantity, OrderType.LIMIT, limit_price=target,
                                        reason=f"take-profit at {p.take_profit_r:g}R from entry {entry:.4f}", tags={PROTECTIVE: "take_profit"}, **common))


def _cancel(manager: Any, guards: list[Order]) -> None:
    """Cancel the protective orders still working (an OCO leg may have ended with its twin)."""
    for order in guards:
        current = manager.get(order.client_order_id)
        if current is not None and not current.status.is_terminal:
            manager.cancel(order.client_order_id)


def _armed(manager: Any, order: Order) -> bool:
    """Return False for a bracket exit still waiting for its entry (it cannot fill before that)."""
    if not order.parent_id:
        return True
    parent = manager.get(order.parent_id)
    return parent is not None and parent.status is OrderStatus.FILLED


def _protected_quantity(position: float, pending: list[Order]) -> float:
    """Return how much of ``position`` survives the pending orders (0 when they close or reverse it); pass only armed orders."""
    if abs(position) <= _EPS:
        return 0.0
    after = position
    groups: dict[str, float] = {}
    for order in pending:
        signed = order.side.sign * order.remaining
        if order.oco_group:  # one leg of an OCO pair fills at most
            groups[order.oco_group] = signed if abs(signed) > abs(groups.get(order.oco_group, 0.0)) else groups.get(order.oco_group, 0.0)
            continue
        after += signed
    after += sum(groups.values())
    if after * position <= 0:
        return 0.0
    return min(abs(position), abs(after))
