"""The event-driven engine: one step per bar, the same in a backtest and in paper trading.

Each :meth:`Engine.step` shows the new bars to the broker (the paper broker
matches resting orders against them), lets the order manager update emulated
orders, appends the bars to the strategy's history and then asks the strategy
to decide; then the :class:`~core.engine.protect.Protector` (when a stop policy is given)
keeps every position's protective stop in line. Orders it sends go through the :class:`OrderManager` (required risk
check, idempotent IDs). A backtest is this loop over history with a
:class:`~core.clock.FixedClock`; paper trading calls :meth:`Engine.step` when a
new bar arrives.

Sizing (``size``): ``ctx.target(symbol, +1/-1/0)`` goes long, short or flat
with ``weight = size / number of symbols`` of equity. With a broker that sizes
at fill time (the paper broker) the entry becomes ``min(weight * equity,
available) // (fill price * (1 + fee))`` whole units, computed at the fill after
any closing order of the same symbol filled: backtesting.py's all-in convention.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from core.brokers.base import Broker
from core.domain import Bar, Order, OrderType, Side
from core.engine.history import History
from core.engine.protect import PROTECTIVE, Protector, StopPolicy, standing_tif
from core.engine.strategy import Strategy
from core.execution.manager import OrderManager
from core.portfolio.portfolio import Portfolio

_EPS = 1e-12


def default_lot(symbol: str) -> float:
    """Return the paper trading lot of ``symbol``: whole shares, or 1e-6 of a coin for crypto pairs (the loop and the ticket preview)."""
    return 1e-6 if any(coin in symbol.upper() for coin in ("BTC", "ETH", "USDT")) else 1.0


def lot_for(symbol: str, broker: object) -> float:
    """Return the lot size of ``symbol`` at ``broker`` (whole shares unless an instrument says otherwise)."""
    inst = getattr(broker, "instruments", {}).get(symbol)
    return inst.lot_size if inst is not None and inst.lot_size > 0 else 1.0


class StrategyContext:
    """What a strategy sees and can do on one bar."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.now: datetime | None = None
        self._seq = 0

    @property
    def symbols(self) -> list[str]:
        """Return the symbols this strategy trades."""
        return self._engine.symbols

    @property
    def portfolio(self) -> Portfolio:
        """Return the account ledger (read it, do not change it)."""
        return self._engine.portfolio

    def history(self, symbol: str) -> History:
        """Return the bars of ``symbol`` up to and including the current one."""
        return self._engine.histories[symbol]

    def position(self, symbol: str) -> float:
        """Return the signed quantity held in ``symbol``."""
        return self._engine.portfolio.quantity(symbol)

    def equity(self) -> float:
        """Return the account's marked equity."""
        return self._engine.portfolio.equity()

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return the orders still working (resting limits, stops, a bracket's exits), of ``symbol`` or of all symbols."""
        return self._engine.manager.open_orders(symbol)

    def next_id(self, symbol: str) -> str:
        """Return a deterministic client order ID: rerunning the same bar gives the same IDs."""
        self._seq += 1
        stamp = self.now.strftime("%Y%m%dT%H%M%S") if self.now else "start"
        return f"{self._engine.strategy.name}-{symbol}-{stamp}-{self._seq}"

    def submit(self, order: Order) -> Order:
        """Send ``order`` through the order manager (risk check included).

        An order against the position first releases the symbol's protective stop: at a real
        venue the resting stop holds the position (a spot account cannot sell it twice), so the
        strategy's exit would be refused. The protector re-places a stop for what remains after
        the strategy's decision, as it does in a backtest.
        """
        eng = self._engine
        if eng.protector is not None and not order.tags.get(PROTECTIVE):
            eng.protector.release_for(eng, order)
        return eng.manager.submit(order)

    def buy(self, symbol: str, quantity: float, **fields: Any) -> Order:
        """Submit a buy (market unless ``order_type`` etc. say otherwise)."""
        return self.submit(Order(self.next_id(symbol), symbol, Side.BUY, quantity, **fields))

    def sell(self, symbol: str, quantity: float, **fields: Any) -> Order:
        """Submit a sell (market unless ``order_type`` etc. say otherwise)."""
        return self.submit(Order(self.next_id(symbol), symbol, Side.SELL, quantity, **fields))

    def target(self, symbol: str, direction: int) -> None:
        """Be long (+1), short (-1) or flat (0) in ``symbol``, sized by the engine's ``size``."""
        eng = self._engine
        manager = eng.manager
        pending = [o for o in manager.open_orders(symbol) if o.tags.get("intent") == "target"]
        if pending and all(o.tags.get("direction") == direction for o in pending):
            return  # already on its way
        for order in pending:
            manager.cancel(order.client_order_id)
        qty = self.position(symbol)
        current = 0 if abs(qty) < _EPS else (1 if qty > 0 else -1)
        if current == direction:
            return
        if current != 0:
            side = Side.SELL if qty > 0 else Side.BUY
            self.submit(Order(self.next_id(symbol), symbol, side, abs(qty), OrderType.MARKET, time_in_force=standing_tif(eng.broker),
                              tags={"intent": "target", "direction": direction}))
        if direction != 0:
            self._enter(symbol, direction)

    def _enter(self, symbol: str, direction: int) -> None:
        eng = self._engine
        weight = eng.size / len(eng.symbols)
        price = float(self.history(symbol).close[-1])
        lot = lot_for(symbol, eng.broker)
        unit = price * (1 + eng.fee_rate)
        # What the risk hook sees; a broker that sizes at the fill recomputes it from the fill price.
        estimate = (weight * self.equity() // (unit * lot)) * lot if unit > 0 else 0.0
        tags: dict[str, Any] = {"intent": "target", "direction": direction}
        if eng.sizes_at_fill:
            tags["size_fraction"] = weight
        elif estimate <= 0:
            return
        side = Side.BUY if direction > 0 else Side.SELL
        self.submit(Order(self.next_id(symbol), symbol, side, float(estimate if estimate > 0 else lot), OrderType.MARKET,
                          time_in_force=standing_tif(eng.broker), tags=tags))


class Engine:
    """Drive one strategy over bars through an order manager and a broker."""

    def __init__(self, strategy: Strategy, broker: Broker, manager: OrderManager, symbols: Sequence[str], size: float = 1.0,
                 portfolio: Portfolio | None = None, capacity: int = 256, on_bars: Callable[[list[Bar]], None] | None = None,
                 stop: StopPolicy | None = None) -> None:
        if not symbols:
            raise ValueError("give at least one symbol to trade")
        if not 0 < size <= 1:
            raise ValueError(f"size must be in (0, 1] (a fraction of equity, 1 = all-in), not {size}")
        self.strategy = strategy
        self.broker = broker
        self.manager = manager
        self.symbols = list(symbols)
        self.size = size
        self.portfolio = portfolio or broker.portfolio  # type: ignore[attr-defined]
        self.histories = {s: History(capacity) for s in self.symbols}
        self.bars_seen = 0  # bars appended to the histories: the risk gate's per-bar cache key, O(1) per order
        self.ctx = StrategyContext(self)
        fill_model = getattr(broker, "fill_model", None)
        self.fee_rate = fill_model.taker_fee if fill_model is not None else broker.capabilities().taker_fee
        self.sizes_at_fill = bool(getattr(broker, "sizes_at_fill", False))
        self._started = False
        # Protective stops (risk.stop): every position carries one, kept in line after each decision.
        self.protector = Protector(stop) if stop is not None else None
        # Simulated venues match on bars; live ones fill by themselves. ``on_bars`` replaces
        # the broker's own matcher (e.g. the same matcher wrapped in a timer).
        self._on_bars = on_bars if on_bars is not None else getattr(broker, "on_bars", None)

    def warm_up(self, bars: Sequence[Bar]) -> None:
        """Add ``bars`` to the strategy's history without matching or deciding (history before trading starts)."""
        for bar in bars:
            self.histories[bar.symbol].append(bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume)
            self.bars_seen += 1

    def step(self, bars: Sequence[Bar]) -> None:
        """Process the bars that closed at one timestamp, then let the strategy decide."""
        if not bars:
            return
        if self._on_bars is not None:
            self._on_bars(list(bars))
        for bar in bars:
            if self._on_bars is None:
                self.portfolio.mark_bar(bar)
            self.manager.on_bar(bar)
            self.histories[bar.symbol].append(bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume)
            self.bars_seen += 1
        self.ctx.now = bars[0].ts
        self.ctx._seq = 0
        if not self._started:
            self.strategy.on_start(self.ctx)
            self._started = True
        self.strategy.on_bar(self.ctx)
        if self.protector is not None:
            self.protector.sync(self)
        self.portfolio.snapshot(bars[0].ts)
