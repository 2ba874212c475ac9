"""Built-in strategies: ``sma_cross`` and ``buy_and_hold`` (the baseline every report shows)."""

from __future__ import annotations

from collections.abc import Hashable, MutableMapping
from typing import Any, ClassVar

import numpy as np

from core.engine import Strategy, StrategyContext, StrategyError
from core.strategies.indicators import cross_targets, cross_targets_of, crossing, shared_rolling_mean, window_mean
from core.strategies.registry import register


@register
class SmaCross(Strategy):
    """Go long when the fast SMA crosses above the slow one; short (or flat) on the cross below.

    Parameters
    ----------
    fast, slow : int
        Window lengths of the simple moving averages, ``fast < slow``.
    mode : {"long_short", "long_flat"}
        Reverse into a short on a cross down, or just close the long.
    """

    name = "sma_cross"
    defaults: ClassVar[dict[str, Any]] = {"fast": 10, "slow": 20, "mode": "long_short"}

    def validate(self) -> None:
        """Check that the windows are positive and ordered and the mode is known."""
        p = self.params
        if p["fast"] < 1 or p["slow"] < 2 or p["fast"] >= p["slow"]:
            raise StrategyError(f"sma_cross needs 1 <= fast < slow (got fast={p['fast']}, slow={p['slow']})")
        if p["mode"] not in ("long_short", "long_flat"):
            raise StrategyError(f"sma_cross mode must be 'long_short' or 'long_flat', not {p['mode']!r}")

    def min_bars(self) -> int:
        """Return ``slow + 2``: the first cross can show at bar ``slow`` and fills at the next bar's open."""
        return int(self.params["slow"]) + 2

    @property
    def _down(self) -> int:
        return -1 if self.params["mode"] == "long_short" else 0

    def on_bar(self, ctx: StrategyContext) -> None:
        """Act on a crossover of the two averages at the newest bar."""
        fast, slow = self.params["fast"], self.params["slow"]
        for symbol in ctx.symbols:
            close = ctx.history(symbol).close
            i = len(close) - 1
            if i < slow:
                continue
            cross = crossing(window_mean(close, i - 1, fast), window_mean(close, i - 1, slow), window_mean(close, i, fast), window_mean(close, i, slow))
            if cross:
                ctx.target(symbol, 1 if cross == 1 else self._down)

    def fast_targets(self, close: np.ndarray, memo: MutableMapping[Hashable, np.ndarray] | None = None) -> np.ndarray:
        """Return the same decisions as :meth:`on_bar`, for every bar at once (averages shared through ``memo``)."""
        close = np.ascontiguousarray(close, dtype=np.float64)
        if memo is None:
            return cross_targets(close, self.params["fast"], self.params["slow"], self._down)
        return cross_targets_of(shared_rolling_mean(close, self.params["fast"], memo), shared_rolling_mean(close, self.params["slow"], memo),
                                self._down)


@register
class BuyAndHold(Strategy):
    """Buy on the first bar and hold to the end.

    An entry the risk engine vetoes (e.g. for too little return history) or that cannot be
    sized is tried again on the next bar, so the baseline holds from the first bar it may.
    """

    name = "buy_and_hold"
    defaults: ClassVar[dict[str, Any]] = {}

    def on_bar(self, ctx: StrategyContext) -> None:
        """Go long every symbol not held yet (an order already on its way is not sent again)."""
        for symbol in ctx.symbols:
            if len(ctx.history(symbol)) and ctx.position(symbol) == 0:
                ctx.target(symbol, 1)

    def fast_targets(self, close: np.ndarray, memo: MutableMapping[Hashable, np.ndarray] | None = None) -> np.ndarray:
        """Return a long decision on every bar (a no-op once long), as :meth:`on_bar`."""
        return np.ones(close.shape[0], dtype=np.int8)
