"""The paper broker's fill model: when and at what price simulated orders fill.

Rules (all prices are checked against the bar that follows the order's arrival):

* **Market** orders fill at the next bar's open (``market_fill="next_open"``,
  the default) or, with ``market_fill="close"``, immediately at the last close.
* **Limit** orders fill at the open when the bar opens through the limit (a gap in
  the order's favour), otherwise at the limit when the bar's range reaches it.
* **Stop** orders fill at the open when the bar opens through the stop (a gap: the
  stop price is *not* honoured), otherwise at the stop when the range reaches it.
* **Stop-limit** orders become limit orders once triggered; triggered inside a bar
  they fill in that bar only when the trigger price itself satisfies the limit.
* **Trailing stops** check the stop set by earlier bars first, then ratchet with
  the bar's high (sell) or low (buy): the extreme of a bar never protects that bar.
* **Same bar, two OCO legs** (e.g. take-profit and stop-loss both inside the range):
  a leg filled at the open wins (the open comes first); otherwise the conservative
  rule assumes the stop-loss leg was hit first.
* **IOC/FOK** orders meet the market once, at the open of their first bar (or at
  submission in close mode): IOC keeps what fills then, FOK fills all or nothing.
* **Slippage** (market, stop and trailing fills only, always adverse):
  ``slippage_bps`` of the price plus ``slippage_range`` times the bar's high-low.
* **Fees**: limit fills pay ``maker_fee``, others ``taker_fee`` (fractions of
  notional), plus ``commission`` per fill.
* **Volume**: with ``max_volume_share`` set, all fills of one symbol in one bar
  together take at most that share of the bar's volume; the rest stays working.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from core.domain import Bar, Side

MAX_FEE_RATE = 0.1  # as config trading.commission: a 10 % fee per fill is a typo (a percentage given as a fraction)


@dataclass(frozen=True)
class FillModel:
    """Configuration of the simulated fills; see the module docstring for the rules."""

    market_fill: Literal["next_open", "close"] = "next_open"
    slippage_bps: float = 0.0
    slippage_range: float = 0.0
    maker_fee: float = 0.0
    taker_fee: float = 0.0
    commission: float = 0.0
    max_volume_share: float | None = None
    short_margin: float = 1.0

    def __post_init__(self) -> None:
        if self.market_fill not in ("next_open", "close"):
            raise ValueError(f"market_fill must be 'next_open' or 'close', not {self.market_fill!r}")
        if self.max_volume_share is not None and not 0 < self.max_volume_share <= 1:
            raise ValueError("max_volume_share must be in (0, 1] (e.g. 0.1 for 10% of a bar's volume) or None")
        for name in ("slippage_bps", "slippage_range", "maker_fee", "taker_fee", "commission"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a finite number >= 0, not {getattr(self, name)}")
        for name in ("maker_fee", "taker_fee"):
            if getattr(self, name) >= MAX_FEE_RATE:
                raise ValueError(f"{name} is a fraction of notional (0.002 = 0.2 %) below {MAX_FEE_RATE:g}, not {getattr(self, name):g}")

    @classmethod
    def flat_commission(cls, rate: float, **kw: object) -> FillModel:
        """Return a model charging ``rate`` of notional on every fill (maker and taker)."""
        return cls(maker_fee=rate, taker_fee=rate, **kw)  # type: ignore[arg-type]

    @classmethod
    def from_costs(cls, commission: float, slippage_bps: float = 0.0, max_volume_share: float | None = 0.0) -> FillModel:
        """Return the model of the ``trading`` cost settings (one setting for backtests and the paper loop).

        ``commission`` is the rate on notional of every fill, ``slippage_bps`` the adverse move of
        market and stop fills, ``max_volume_share`` the share of a bar's volume the fills of one
        symbol may take (0 or None: no cap; the rest of an order stays working, a partial fill).
        """
        return cls.flat_commission(commission, slippage_bps=slippage_bps, max_volume_share=max_volume_share or None)

    def fee(self, quantity: float, price: float, maker: bool) -> float:
        """Return the fee for one fill."""
        rate = self.maker_fee if maker else self.taker_fee
        return abs(quantity) * price * rate + (self.commission if quantity else 0.0)

    def fee_rate(self, maker: bool = False) -> float:
        """Return the proportional fee rate."""
        return self.maker_fee if maker else self.taker_fee

    def slip(self, price: float, side: Side, bar: Bar | None) -> float:
        """Return ``price`` moved against ``side`` by the configured slippage."""
        if not self.slippage_bps and not self.slippage_range:
            return price
        extra = price * self.slippage_bps / 1e4
        if bar is not None:
            extra += self.slippage_range * (bar.high - bar.low)
        return price + side.sign * extra
