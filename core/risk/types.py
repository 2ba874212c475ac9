"""What the risk engine needs to know, as small immutable values of its own.

The engine deliberately does not depend on the order manager's or portfolio's
classes: callers translate into these (see :mod:`core.risk.hook`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.domain import OrderType, Position, Side
from core.risk._window import window as frame_window


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order the engine is asked to approve.

    ``price`` is the reference price for notional and exposure (the limit price,
    or the last price for market orders). ``lot_size`` > 0 rounds a shrunk
    quantity down to whole lots; 0 allows fractional quantities.
    """

    symbol: str
    side: Side
    quantity: float
    price: float
    order_type: OrderType = OrderType.MARKET
    client_order_id: str | None = None
    lot_size: float = 0.0
    reason: str = ""
    tags: Mapping[str, Any] = field(default_factory=dict)

    @property
    def notional(self) -> float:
        """Return ``quantity * price``."""
        return self.quantity * self.price

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (for the audit log)."""
        return {
            "symbol": self.symbol,
            "side": str(self.side),
            "quantity": self.quantity,
            "price": self.price,
            "order_type": str(self.order_type),
            "client_order_id": self.client_order_id,
        }


@dataclass(frozen=True, slots=True)
class PortfolioState:
    """The book at the moment of the check.

    ``positions`` maps a symbol to ``(signed quantity, last price)``.
    ``peak_equity`` is the high-water mark and ``day_start_equity`` the equity at
    the start of the current (UTC) trading day, both kept by the portfolio.
    """

    equity: float
    cash: float
    peak_equity: float
    day_start_equity: float
    positions: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def quantity(self, symbol: str) -> float:
        """Return the signed quantity held in ``symbol`` (0 when flat)."""
        return float(self.positions.get(symbol, (0.0, 0.0))[0])

    def values(self, prices: Mapping[str, float] | None = None) -> dict[str, float]:
        """Return the signed market value per held symbol, with ``prices`` overriding the stored ones."""
        prices = prices or {}
        return {s: q * float(prices.get(s, p)) for s, (q, p) in self.positions.items() if q != 0}

    @classmethod
    def from_positions(
        cls, equity: float, cash: float, positions: Iterable[Position], peak_equity: float | None = None, day_start_equity: float | None = None
    ) -> PortfolioState:
        """Build a state from domain :class:`~core.domain.Position` values (last price, else average cost)."""
        book = {p.symbol: (p.quantity, p.last_price if p.last_price is not None else p.avg_price) for p in positions if p.quantity != 0}
        return cls(equity, cash, peak_equity if peak_equity is not None else equity, day_start_equity if day_start_equity is not None else equity, book)


@dataclass(frozen=True, slots=True, eq=False)
class ReturnsWindow:
    """Aligned per-period returns as one array: ``values[row, column]``, rows oldest first.

    The risk gate builds this once per bar from its price history; the checks read the
    array directly, and a pandas frame is built only for a caller that asks for one
    (:attr:`MarketState.returns`), so a bar with an order pays no DataFrame construction.
    """

    values: np.ndarray
    columns: tuple[str, ...]
    index: Sequence[Any]

    where: dict[str, int] = field(init=False, repr=False)  # column of each symbol: a check reads many columns

    def __post_init__(self) -> None:
        object.__setattr__(self, "where", {s: i for i, s in enumerate(self.columns)})

    def position(self, symbol: str) -> int | None:
        """Return the column of ``symbol`` (None when it has no returns)."""
        return self.where.get(symbol)

    def frame(self) -> pd.DataFrame:
        """Return the window as a DataFrame (DatetimeIndex rows, one column per symbol)."""
        return pd.DataFrame(self.values, index=pd.DatetimeIndex(self.index), columns=pd.Index(list(self.columns)))


class MarketState:
    """Market data for the checks.

    ``returns`` holds per-period simple returns, one column per symbol, oldest
    first (the engine uses the most recent rows). ``prices`` override position
    prices. ``risk_scale`` in (0, 1] (e.g. a GARCH forecast's exposure scale)
    multiplies the position limit when forecast risk is high. ``window`` (instead of
    ``returns``) gives the same returns as one aligned array; ``returns`` is then built
    from it on first access.
    """

    __slots__ = ("_returns", "prices", "risk_scale", "window")

    def __init__(self, returns: pd.DataFrame | None = None, prices: Mapping[str, float] | None = None, risk_scale: float = 1.0,
                 window: ReturnsWindow | None = None) -> None:
        if not (0.0 <= risk_scale <= 1.0) or math.isnan(risk_scale):
            raise ValueError(f"risk_scale must lie in [0, 1], got {risk_scale}")
        self._returns = returns
        self.prices: Mapping[str, float] = prices if prices is not None else {}
        self.risk_scale = risk_scale
        self.window = window

    @property
    def returns(self) -> pd.DataFrame | None:
        """Return the returns frame (built from ``window`` on first access)."""
        if self._returns is None and self.window is not None:
            self._returns = self.window.frame()
        return self._returns

    def has_returns(self, symbol: str) -> bool:
        """Return True when ``symbol`` has a returns column."""
        if self.window is not None:
            return symbol in self.window.where
        return self._returns is not None and symbol in self._returns.columns

    def returns_array(self, symbols: Sequence[str], rows: int) -> np.ndarray:
        """Return the last ``rows`` returns of ``symbols`` as a float array (columns in the given order)."""
        if self.window is not None:
            arr = self.window.values
            where = self.window.where
            pos = [where[s] for s in symbols]
            return arr[max(arr.shape[0] - rows, 0) :, pos] if rows > 0 else arr[:0, pos]
        return frame_window(self._returns, list(symbols), rows)

    def __repr__(self) -> str:
        cols = self.window.columns if self.window is not None else (tuple(self._returns.columns) if self._returns is not None else ())
        return f"MarketState(columns={list(cols)}, prices={dict(self.prices)}, risk_scale={self.risk_scale})"
