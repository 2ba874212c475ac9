"""Kelly sizing from a model's calibrated probability.

- Binary Kelly: a bet winning ``b`` times the stake with probability ``p`` and
  losing the stake otherwise has growth-optimal fraction ``f* = p - (1 - p) / b``.
- Continuous Kelly: for a return stream with per-period excess mean ``mu`` and
  variance ``sigma²``, ``f* = mu / sigma²``.

The sizer then takes a fraction of ``f*`` (default 1/4, ``settings.risk.kelly_fraction``),
floors it at 0 (no bet without an edge; shorting is a separate signal), multiplies
it by the regime's multiplier and caps it at the position limit. Each step is
kept in a :class:`KellyExplanation` for the UI.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from core.domain import Regime

DEFAULT_REGIME_MULTIPLIERS: Mapping[Regime, float] = {
    Regime.BULL: 1.0,
    Regime.BEAR: 1.0,
    Regime.SIDEWAYS: 1.0,
    Regime.VOLATILE: 0.5,
    Regime.CRISIS: 0.0,
}


def binary_kelly(p: float, b: float) -> float:
    """Return ``f* = p - (1 - p) / b`` (may be negative: no edge).

    Raises
    ------
    ValueError
        When ``p`` is outside [0, 1] or ``b`` is not positive.
    """
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        raise ValueError(f"probability p must lie in [0, 1], got {p}")
    if not b > 0:
        raise ValueError(f"payoff ratio b must be positive (average win / average loss), got {b}")
    return p - (1.0 - p) / b


def continuous_kelly(mu: float, sigma: float) -> float:
    """Return ``mu / sigma²`` for per-period excess mean ``mu`` and standard deviation ``sigma``."""
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    return mu / (sigma * sigma)


def payoff_ratio_from_brackets(entry: float, take_profit: float, stop_loss: float) -> float:
    """Return ``b = |take_profit - entry| / |entry - stop_loss|`` from a bracket's distances."""
    risk = abs(entry - stop_loss)
    if risk == 0:
        raise ValueError("stop loss equals the entry price: the payoff ratio is undefined; set a stop distance")
    return abs(take_profit - entry) / risk


def payoff_ratio_from_history(pnl: Iterable[float]) -> float:
    """Return ``b = mean(winning P&L) / mean(|losing P&L|)`` from past trades."""
    x = np.asarray(list(pnl), dtype=float)
    wins, losses = x[x > 0], -x[x < 0]
    if wins.size == 0 or losses.size == 0:
        raise ValueError("need at least one winning and one losing trade to estimate the payoff ratio")
    return float(wins.mean() / losses.mean())


@dataclass(frozen=True, slots=True)
class KellyExplanation:
    """Every step from the edge to the final fraction of equity, for the UI.

    ``caps`` names each rule that cut the size (``"floor_zero"``,
    ``"regime:volatile"``, ``"position_limit"``).
    """

    p: float | None
    b: float | None
    mu: float | None
    sigma: float | None
    f_star: float
    fraction: float
    f_fractional: float
    regime: str | None
    regime_multiplier: float
    cap: float
    final_fraction: float
    caps: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)

    def text(self) -> str:
        """Return a one-line human explanation."""
        edge = f"p={self.p:.3f}, b={self.b:.2f}" if self.p is not None else f"mu={self.mu:.5f}, sigma={self.sigma:.5f}"
        caps = f" (cut by {', '.join(self.caps)})" if self.caps else ""
        return f"{edge}: f*={self.f_star:.4f} x {self.fraction:g} x regime {self.regime_multiplier:g} -> {self.final_fraction:.4f} of equity{caps}"


@dataclass(frozen=True, slots=True)
class SizingDecision:
    """A sized position: fraction of equity, money and quantity (rounded down to ``lot_size``)."""

    fraction: float
    notional: float
    quantity: float
    explanation: KellyExplanation


@dataclass(frozen=True)
class KellySizer:
    """Fractional Kelly sizer, floored at zero, regime-shrunk and capped.

    Parameters
    ----------
    fraction
        The Kelly fraction (1/4 by default: full Kelly is too aggressive for estimated edges).
    max_position_pct
        The cap, as a fraction of equity (the risk engine's position limit).
    regime_multipliers
        Size multiplier per regime for *new* positions (volatile 0.5, crisis 0 by default).
    """

    fraction: float = 0.25
    max_position_pct: float = 0.05
    regime_multipliers: Mapping[Regime, float] = field(default_factory=lambda: dict(DEFAULT_REGIME_MULTIPLIERS))

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise ValueError(f"Kelly fraction must lie in (0, 1], got {self.fraction}")
        if not 0 < self.max_position_pct <= 1:
            raise ValueError(f"max_position_pct must lie in (0, 1], got {self.max_position_pct}")
        bad = {str(k): v for k, v in self.regime_multipliers.items() if not 0 <= v <= 1}
        if bad:
            raise ValueError(f"regime multipliers must lie in [0, 1], got {bad}")

    @classmethod
    def from_settings(cls, risk: Any, **overrides: Any) -> KellySizer:
        """Return a sizer using ``settings.risk.kelly_fraction`` and ``max_position_pct``."""
        return cls(**{"fraction": risk.kelly_fraction, "max_position_pct": risk.max_position_pct, **overrides})

    def _finish(
        self,
        f_star: float,
        regime: Regime | str | None,
        equity: float,
        price: float | None,
        lot_size: float,
        p: float | None = None,
        b: float | None = None,
        mu: float | None = None,
        sigma: float | None = None,
    ) -> SizingDecision:
        caps: list[str] = []
        f_frac = self.fraction * f_star
        f = f_frac
        if f <= 0:
            f = 0.0
            caps.append("floor_zero")
        reg = Regime(regime) if regime is not None else None
        mult = float(self.regime_multipliers.get(reg, 1.0)) if reg is not None else 1.0
        if mult < 1.0 and f > 0:
            caps.append(f"regime:{reg}")
        f *= mult
        if f > self.max_position_pct:
            f = self.max_position_pct
            caps.append("position_limit")
        notional = f * max(equity, 0.0)
        qty = 0.0
        if price is not None and price > 0:
            qty = notional / price
            if lot_size > 0:
                qty = math.floor(qty / lot_size + 1e-9) * lot_size
        expl = KellyExplanation(p, b, mu, sigma, f_star, self.fraction, f_frac, str(reg) if reg else None, mult, self.max_position_pct, f, tuple(caps))
        return SizingDecision(f, notional, qty, expl)

    def size_binary(
        self, p: float, b: float, equity: float, price: float | None = None, regime: Regime | str | None = None, lot_size: float = 0.0
    ) -> SizingDecision:
        """Size a bet won with probability ``p`` (of the trade's direction) paying ``b`` per unit risked."""
        return self._finish(binary_kelly(p, b), regime, equity, price, lot_size, p=p, b=b)

    def size_continuous(
        self, mu: float, sigma: float, equity: float, price: float | None = None, regime: Regime | str | None = None, lot_size: float = 0.0
    ) -> SizingDecision:
        """Size a position in a return stream with per-period excess mean ``mu`` and std ``sigma``."""
        return self._finish(continuous_kelly(mu, sigma), regime, equity, price, lot_size, mu=mu, sigma=sigma)
