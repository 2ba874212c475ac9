"""RSI mean reversion: buy an oversold market, sell it back when the RSI recovers.

Rules (Wilder's RSI over ``period`` bars, decided at each bar's close):

* flat or short and RSI < ``lower`` (oversold): go long;
* long and RSI > ``exit``: close the long;
* in ``long_short`` mode, RSI > ``upper`` (overbought): go short, and close the short
  when RSI < ``exit``.

Defaults are the textbook 14 bars, 30/70 bands and an exit at the 50 midline, long only.
"""

from __future__ import annotations

import pandas as pd

from core.strategies.library._common import check_mode, check_positive, hold, never, rsi

NAME = "rsi_reversion"
PARAMS = {"period": 14, "lower": 30.0, "upper": 70.0, "exit": 50.0, "mode": "long_flat"}


def warmup(period: int = 14, **_: object) -> int:
    """Return the bars after which the value no longer depends on earlier history (Wilder smoothing decays as (1 - 1/period)^n)."""
    return max(20 * int(period), 250)


def signals(bars: pd.DataFrame, period: int = 14, lower: float = 30.0, upper: float = 70.0, exit: float = 50.0, mode: str = "long_flat") -> pd.Series:
    """Return the target exposure (+1 long, -1 short, 0 flat) per bar."""
    check_mode(mode)
    check_positive(period=period)
    if not 0 < lower < exit < upper < 100:
        raise ValueError(f"rsi_reversion needs 0 < lower < exit < upper < 100 (got lower={lower}, exit={exit}, upper={upper})")
    r = rsi(bars["close"], int(period))
    short_entry = r > upper if mode == "long_short" else never(bars.index)
    return hold(r < lower, r > exit, short_entry, r < exit)
