"""What the risk engine needs to know, as small immutable values of its own.

The engine deliberately does not depend on the order manager's or portfolio's
classes: callers translate into these (see :mod:`core.risk.hook`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.domain import OrderType, Position, Side


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
class MarketState:
    """Market data for the checks.

    ``returns`` holds per-period simple returns, one column per symbol, oldest
    first (the engine uses the most recent rows). ``prices`` override position
    prices. ``risk_scale`` in (0, 1] (e.g. a GARCH forecast's exposure scale)
    multiplies the position limit when forecast risk is high.
    """

    returns: pd.DataFrame | None = None
    prices: Mapping[str, float] = field(default_factory=dict)
    risk_scale: float = 1.0

    def __post_init__(self) -> None:
        if not (0.0 <= self.risk_scale <= 1.0) or math.isnan(self.risk_scale):
            raise ValueError(f"risk_scale must lie in [0, 1], got {self.risk_scale}")
