"""Donchian breakout, the turtle traders' system 1: follow a break of the recent range.

Rules (decided at each bar's close, channels over the bars *before* the current one):

* close above the highest high of the previous ``entry`` bars: go long;
* close below the lowest low of the previous ``exit`` bars: close the long;
* in ``long_short`` mode, close below the lowest low of the previous ``entry`` bars: go short,
  and close the short above the highest high of the previous ``exit`` bars.

Defaults: the turtles' 20-bar entry and 10-bar exit, long and short.
"""

from __future__ import annotations

import pandas as pd

from core.strategies.library._common import check_mode, check_positive, hold, never

NAME = "donchian_breakout"
PARAMS = {"entry": 20, "exit": 10, "mode": "long_short"}


def warmup(entry: int = 20, **_: object) -> int:
    """Return the history the position state needs (a breakout or an exit resets it)."""
    return max(15 * int(entry), 250)


def signals(bars: pd.DataFrame, entry: int = 20, exit: int = 10, mode: str = "long_short") -> pd.Series:
    """Return the target exposure (+1 long, -1 short, 0 flat) per bar."""
    check_mode(mode)
    check_positive(entry=entry, exit=exit)
    if exit > entry:
        raise ValueError(f"donchian_breakout needs exit <= entry (got entry={entry}, exit={exit})")
    close, high, low = bars["close"], bars["high"], bars["low"]
    upper = high.rolling(int(entry)).max().shift(1)
    lower = low.rolling(int(entry)).min().shift(1)
    exit_low = low.rolling(int(exit)).min().shift(1)
    exit_high = high.rolling(int(exit)).max().shift(1)
    short_entry = close < lower if mode == "long_short" else never(bars.index)
    return hold(close > upper, close < exit_low, short_entry, close > exit_high)
