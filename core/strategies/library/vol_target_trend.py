"""Volatility-targeted trend: follow the trend, sized so the position's volatility is ``target_vol``.

Rules (decided at each bar's close):

* trend: close above its ``trend``-bar simple moving average is up (+1), below is down (-1,
  or flat in ``long_flat`` mode);
* realised volatility: standard deviation of the last ``vol_window`` log returns, annualised
  with ``periods`` bars a year;
* exposure = trend x min(1, ``target_vol`` / realised volatility), rounded down to a multiple
  of ``step`` (fewer, larger rebalances); flat until both windows are full.

An exposure of 0.5 holds half of what the engine's sizing allows (half of equity all-in).
Defaults: a 100-bar trend, 20-bar volatility, 15 % annual target, 0.25 steps, long and short.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.strategies.library._common import check_mode, check_positive

NAME = "vol_target_trend"
PARAMS = {"trend": 100, "vol_window": 20, "target_vol": 0.15, "step": 0.25, "periods": 252, "mode": "long_short"}


def warmup(trend: int = 100, vol_window: int = 20, **_: object) -> int:
    """Return the longest window plus one (no state beyond the windows)."""
    return max(int(trend), int(vol_window) + 1) + 1


def signals(bars: pd.DataFrame, trend: int = 100, vol_window: int = 20, target_vol: float = 0.15, step: float = 0.25, periods: int = 252,
            mode: str = "long_short") -> pd.Series:
    """Return the target exposure in [-1, 1] per bar."""
    check_mode(mode)
    check_positive(trend=trend, vol_window=vol_window, target_vol=target_vol, step=step, periods=periods)
    if step > 1:
        raise ValueError(f"step must be in (0, 1], not {step}")
    close = bars["close"]
    direction = np.sign(close - close.rolling(int(trend)).mean())
    if mode == "long_flat":
        direction = direction.clip(lower=0.0)
    vol = np.log(close).diff().rolling(int(vol_window)).std() * np.sqrt(periods)
    scale = (target_vol / vol).clip(upper=1.0)
    # A small epsilon keeps a scale of exactly 1.0 (or 0.5) from flooring one step down by rounding noise.
    sized = np.floor(scale / step + 1e-9) * step
    return (direction * sized).fillna(0.0).clip(-1.0, 1.0)
