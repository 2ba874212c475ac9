"""Time-series momentum (Moskowitz, Ooi and Pedersen 2012): hold the sign of the past return.

Rule (decided at each bar's close): be long when the close is above the close
``lookback`` bars ago, short when it is below (flat instead in ``long_flat`` mode),
flat while fewer than ``lookback`` bars of history exist.

Defaults: a 12-month (252 daily bars) lookback, long and short.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.strategies.library._common import check_mode, check_positive

NAME = "ts_momentum"
PARAMS = {"lookback": 252, "mode": "long_short"}


def warmup(lookback: int = 252, **_: object) -> int:
    """Return ``lookback + 1``: the value at a bar uses that bar and the one ``lookback`` before."""
    return int(lookback) + 1


def signals(bars: pd.DataFrame, lookback: int = 252, mode: str = "long_short") -> pd.Series:
    """Return the target exposure (+1 long, -1 short, 0 flat) per bar."""
    check_mode(mode)
    check_positive(lookback=lookback)
    past = bars["close"].shift(int(lookback))
    direction = np.sign(bars["close"] - past).fillna(0.0)
    return direction.clip(lower=0.0) if mode == "long_flat" else direction
