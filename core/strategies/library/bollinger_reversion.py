"""Bollinger-band reversion: fade a close outside the bands, exit at the middle band.

Rules (middle band = ``window``-bar simple moving average of the close, bands at
``k`` population standard deviations around it, decided at each bar's close):

* close below the lower band: go long; close back at or above the middle band: close the long;
* in ``long_short`` mode, close above the upper band: go short; close at or below the middle: close the short.

Defaults: Bollinger's own 20 bars and 2 standard deviations, long only.
"""

from __future__ import annotations

import pandas as pd

from core.strategies.library._common import check_mode, check_positive, hold, never

NAME = "bollinger_reversion"
PARAMS = {"window": 20, "k": 2.0, "mode": "long_flat"}


def warmup(window: int = 20, **_: object) -> int:
    """Return the history the position state needs (a band touch or a middle-band cross resets it)."""
    return max(15 * int(window), 250)


def signals(bars: pd.DataFrame, window: int = 20, k: float = 2.0, mode: str = "long_flat") -> pd.Series:
    """Return the target exposure (+1 long, -1 short, 0 flat) per bar."""
    check_mode(mode)
    check_positive(window=window, k=k)
    close = bars["close"]
    mid = close.rolling(int(window)).mean()
    width = k * close.rolling(int(window)).std(ddof=0)
    short_entry = close > mid + width if mode == "long_short" else never(bars.index)
    return hold(close < mid - width, close >= mid, short_entry, close <= mid)
