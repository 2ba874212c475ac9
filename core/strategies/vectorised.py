"""Run a vectorised ``signals(bars, **params)`` function causally in the event engine.

:func:`signal_strategy` turns a signals function into a :class:`Strategy` class that the
registry, backtests, the paper loop and live trading use like any other.

Causality. At every bar the strategy needs the function's value at that bar computed from
bars up to that bar only. The trading loop evaluates the function on the history window
(the last ``warmup`` bars, so the cost per bar does not grow with history). A backtest
would pay that for every bar (O(n x warmup)); instead :meth:`SignalStrategy.prepare`
runs the look-ahead check (:mod:`core.strategies.lookahead`) on the backtest's own bars
and, only if it passes, evaluates the function once on the whole frame and reads the
value of bar ``i`` from it. The check's truncation test proves the full-frame value at a
bar equals the value computed on bars up to it, and its warm-up test proves that equals
the value on the loop's window, so both give the same orders (a test compares them order
for order). A strategy that fails the check is evaluated bar by bar on the window in its
backtests too: the result is slow but honest, and carries a red warning.

Orders. The exposure ``e`` in [-1, 1] decided at a bar's close becomes market orders filled
at the next bar's open. ``e`` scales what the engine's sizing allows: ``+1`` is exactly
``ctx.target(symbol, +1)`` (all of ``size / number of symbols`` of equity, sized at the fill),
``-1`` the same short, ``0`` flat, ``0.5`` half of it. A change of sign closes the
position and opens the new one sized at the fill (``|e|`` of the allowed fraction); a
change of size on the same side buys or sells the difference, estimated at the close
(whole lots, nothing when less than one lot). NaN means "no decision". A position
closed by something else (its protective stop, the kill switch) is not re-opened until
the exposure changes; one never opened (vetoed by the risk engine) is tried again.

Protective stop (optional ``STOP``): ``{"stop_pct": 0.05}`` keeps a stop 5 % from the
entry price, ``{"trail_pct": 0.05}`` a trailing stop 5 % from the best price since.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from core.domain import Order, OrderStatus, OrderType, Side
from core.engine.strategy import Strategy, StrategyError
from core.strategies.lookahead import CheckResult, call_signals, check_signals

DEFAULT_WARMUP = 250
STOP_KEYS = ("stop_pct", "trail_pct")
_EPS = 1e-12


def default_params(fn: Callable[..., Any]) -> dict[str, Any]:
    """Return the keyword defaults of ``fn`` after its first (bars) argument."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return {}
    out = {}
    for p in list(sig.parameters.values())[1:]:
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is not p.empty:
            out[p.name] = p.default
    return out


def check_stop(stop: Mapping[str, Any] | None, at: str = "") -> dict[str, float]:
    """Return ``stop`` validated: one of ``stop_pct``/``trail_pct``, a fraction in (0, 1)."""
    if not stop:
        return {}
    if not isinstance(stop, Mapping):
        raise StrategyError(f"STOP must be a dict such as {{'stop_pct': 0.05}}, not {type(stop).__name__}{at}")
    unknown = [k for k in stop if k not in STOP_KEYS]
    if unknown or len(stop) != 1:
        raise StrategyError(f"STOP takes one of {', '.join(STOP_KEYS)} (a fraction such as 0.05), got {dict(stop)}{at}")
    key, value = next(iter(stop.items()))
    if not isinstance(value, int | float) or not 0 < value < 1:
        raise StrategyError(f"STOP {key} must be a fraction in (0, 1) such as 0.05, not {value!r}{at}")
    return {key: float(value)}


class SignalStrategy(Strategy):
    """A :class:`Strategy` that trades the exposures of a vectorised signals function (see the module docstring)."""

    kind: ClassVar[str] = "signals"
    signals_fn: ClassVar[Callable[..., Any]]
    warmup_spec: ClassVar[int | Callable[..., int] | None] = None
    stop: ClassVar[dict[str, float]] = {}
    source: ClassVar[str | None] = None

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._full: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._held: dict[str, float] = {}
        self._closed_outside: set[str] = set()
        self._stop_ids: dict[str, str] = {}
        self.check_result: CheckResult | None = None

    # -- the function ------------------------------------------------------------------
    def warmup_bars(self) -> int:
        """Return the history window the function needs (declared ``WARMUP``/``warmup(**params)``, else 250)."""
        spec = type(self).warmup_spec
        if spec is None:
            return DEFAULT_WARMUP
        value = spec(**self.params) if callable(spec) else spec
        if not isinstance(value, int | np.integer) or value < 1:
            raise StrategyError(f"{self.name}: the warm-up must be a positive whole number of bars, not {value!r}")
        return int(value)

    def exposures(self, bars: pd.DataFrame) -> np.ndarray:
        """Return the function's exposures on ``bars`` (contract checked)."""
        return call_signals(type(self).signals_fn, bars, self.params)

    def check(self, bars: pd.DataFrame, samples: int = 50) -> CheckResult:
        """Run the look-ahead check of this strategy, with its parameters, on ``bars``."""
        return check_signals(type(self).signals_fn, bars, self.params, warmup=self.warmup_bars(), samples=samples, name=self.name)

    def prepare(self, frames: Mapping[str, pd.DataFrame]) -> CheckResult:
        """Check the function on each symbol's bars; when all pass, evaluate it once per symbol on the whole frame.

        Returns the first failing check (or the last passing one); it is also kept in ``check_result``.
        """
        self._full.clear()
        results = [self.check(frame) for frame in frames.values()]
        failed = next((r for r in results if not r.ok), None)
        self.check_result = failed or results[-1]
        if failed is None:
            for symbol, frame in frames.items():
                self._full[symbol] = (frame.index.as_unit("ns").asi8, self.exposures(frame))
        return self.check_result

    def _exposure(self, ctx: Any, symbol: str) -> float:
        hist = ctx.history(symbol)
        i = len(hist) - 1
        full = self._full.get(symbol)
        if full is not None and i < len(full[0]) and full[0][i] == pd.Timestamp(ctx.now).as_unit("ns").value:
            return float(full[1][i])
        window = hist.frame(last=self.warmup_bars())
        return float(self.exposures(window)[-1])

    # -- orders -----------------------------------------------------------------------
    def on_bar(self, ctx: Any) -> None:
        """Turn the exposure at the newest bar into orders for the next open."""
        for symbol in ctx.symbols:
            if len(ctx.history(symbol)) == 0:
                continue
            if self.stop:
                self._stopped_out(ctx, symbol)
            e = self._exposure(ctx, symbol)
            if not np.isnan(e):
                self._apply(ctx, symbol, max(-1.0, min(1.0, e)))
            if self.stop:
                self._protect(ctx, symbol)

    def _apply(self, ctx: Any, symbol: str, e: float) -> None:
        eng = ctx._engine
        manager = eng.manager
        direction = 0 if abs(e) < _EPS else (1 if e > 0 else -1)
        pending = [o for o in manager.open_orders(symbol) if o.tags.get("intent") == "target"]
        if pending and all(o.tags.get("exposure") == e for o in pending):
            return  # already on its way
        if symbol in self._closed_outside:
            if e == self._held.get(symbol):
                return  # stopped out: wait for the exposure to change
            self._closed_outside.discard(symbol)
        for order in pending:
            manager.cancel(order.client_order_id)
        qty = ctx.position(symbol)
        current = 0 if abs(qty) < _EPS else (1 if qty > 0 else -1)
        if current == direction and (direction == 0 or e == self._held.get(symbol)):
            self._held[symbol] = e
            return
        self._cancel_stops(ctx, symbol)
        tags = {"intent": "target", "direction": direction, "exposure": e}
        if current != direction:
            if current != 0:
                ctx.submit(Order(ctx.next_id(symbol), symbol, Side.SELL if qty > 0 else Side.BUY, abs(qty), OrderType.MARKET, tags=tags))
            if direction != 0:
                self._enter(ctx, symbol, direction, abs(e), tags)
        else:
            self._resize(ctx, symbol, qty, e, tags)
        self._held[symbol] = e

    def _enter(self, ctx: Any, symbol: str, direction: int, fraction: float, tags: dict[str, Any]) -> None:
        eng = ctx._engine
        weight = eng.size / len(eng.symbols) * fraction
        lot = _lot(eng.broker, symbol)
        unit = float(ctx.history(symbol).close[-1]) * (1 + eng.fee_rate)
        estimate = (weight * ctx.equity() // (unit * lot)) * lot if unit > 0 else 0.0
        if eng.sizes_at_fill:
            tags = {**tags, "size_fraction": weight}
        elif estimate <= 0:
            return
        side = Side.BUY if direction > 0 else Side.SELL
        ctx.submit(Order(ctx.next_id(symbol), symbol, side, float(estimate if estimate > 0 else lot), OrderType.MARKET, tags=tags))

    def _resize(self, ctx: Any, symbol: str, qty: float, e: float, tags: dict[str, Any]) -> None:
        eng = ctx._engine
        lot = _lot(eng.broker, symbol)
        unit = float(ctx.history(symbol).close[-1]) * (1 + eng.fee_rate)
        want = (abs(e) * eng.size / len(eng.symbols) * ctx.equity() // (unit * lot)) * lot if unit > 0 else 0.0
        delta = want - abs(qty)
        if abs(delta) < lot - _EPS:
            return
        grow = delta > 0
        side = (Side.BUY if qty > 0 else Side.SELL) if grow else (Side.SELL if qty > 0 else Side.BUY)
        ctx.submit(Order(ctx.next_id(symbol), symbol, side, float(abs(delta)), OrderType.MARKET, tags=tags))

    # -- protective stop ----------------------------------------------------------------
    def _stopped_out(self, ctx: Any, symbol: str) -> None:
        last = self._stop_ids.get(symbol)
        order = ctx._engine.manager.get(last) if last is not None else None
        if order is not None and order.status is OrderStatus.FILLED:
            self._closed_outside.add(symbol)
            del self._stop_ids[symbol]

    def _protect(self, ctx: Any, symbol: str) -> None:
        manager = ctx._engine.manager
        last = self._stop_ids.get(symbol)
        order = manager.get(last) if last is not None else None
        if order is not None and not order.status.is_terminal:
            return
        qty = ctx.position(symbol)
        if abs(qty) < _EPS or any(o.tags.get("intent") == "target" for o in manager.open_orders(symbol)):
            return
        pos = ctx.portfolio.positions[symbol]
        side = Side.SELL if qty > 0 else Side.BUY
        tags = {"intent": "stop"}
        if "trail_pct" in self.stop:
            order = Order(ctx.next_id(symbol), symbol, side, abs(qty), OrderType.TRAILING_STOP, trail_percent=self.stop["trail_pct"] * 100, tags=tags)
        else:
            pct = self.stop["stop_pct"]
            price = pos.avg_price * (1 - pct if qty > 0 else 1 + pct)
            order = Order(ctx.next_id(symbol), symbol, side, abs(qty), OrderType.STOP, stop_price=price, tags=tags)
        self._stop_ids[symbol] = ctx.submit(order).client_order_id

    def _cancel_stops(self, ctx: Any, symbol: str) -> None:
        manager = ctx._engine.manager
        for order in manager.open_orders(symbol):
            if order.tags.get("intent") == "stop":
                manager.cancel(order.client_order_id)
        self._stop_ids.pop(symbol, None)


def _lot(broker: object, symbol: str) -> float:
    inst = getattr(broker, "instruments", {}).get(symbol)
    return inst.lot_size if inst is not None and inst.lot_size > 0 else 1.0


def signal_strategy(fn: Callable[..., Any], *, name: str | None = None, params: Mapping[str, Any] | None = None,
                    warmup: int | Callable[..., int] | None = None, stop: Mapping[str, Any] | None = None, source: str | None = None,
                    doc: str | None = None) -> type[SignalStrategy]:
    """Return a :class:`SignalStrategy` subclass trading ``fn``.

    Parameters
    ----------
    fn
        ``signals(bars, **params) -> pandas.Series`` of target exposures in [-1, 1].
    name
        Registry name (default: the function's name, or its module's for ``signals``).
    params
        Parameter defaults (their types are the parameter types); default: ``fn``'s keyword defaults.
    warmup
        Bars of history the function needs, or a function of the parameters returning it.
    stop
        Optional protective stop, ``{"stop_pct": f}`` or ``{"trail_pct": f}``.
    source
        Where the function came from (a file), for messages and listings.
    doc
        Description (default: the function's or its module's docstring).
    """
    if not callable(fn):
        raise StrategyError(f"a signals strategy needs a function signals(bars, **params), got {type(fn).__name__}")
    if name is None:
        name = fn.__name__ if fn.__name__ not in ("signals", "<lambda>") else (getattr(fn, "__module__", None) or "signals").rsplit(".", 1)[-1]
    defaults = dict(params) if params is not None else default_params(fn)
    attrs = {
        "name": name, "defaults": defaults, "signals_fn": staticmethod(fn), "warmup_spec": warmup, "stop": check_stop(stop),
        "source": source, "__doc__": doc or inspect.getdoc(fn) or f"Vectorised signals strategy {name}.", "__module__": __name__,
    }  # fmt: skip
    return type(f"Signals_{name}", (SignalStrategy,), attrs)
