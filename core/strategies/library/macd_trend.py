"""MACD trend: long while the MACD line is above its signal line.

Rules (exponential moving averages with ``alpha = 2 / (span + 1)`` seeded by the first close,
decided at each bar's close):

* MACD = EMA(close, ``fast``) - EMA(close, ``slow``); signal = EMA(MACD, ``signal``);
* MACD above the signal line: long; below: short (flat in ``long_flat`` mode);
* flat for the first ``slow + signal`` bars, while the averages settle.

Defaults: Appel's 12/26/9, long and short.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.strategies.library._common import check_mode, check_positive

NAME = "macd_trend"
PARAMS = {"fast": 12, "slow": 26, "signal": 9, "mode": "long_short"}


def warmup(slow: int = 26, signal: int = 9, **_: object) -> int:
    """Return the bars after which the EMAs forget their seed to ~1e-13 ((1 - 2/(slow+1))^n)."""
    return 15 * int(slow) + int(signal)


def signals(bars: pd.DataFrame, fast: int = 12, slow: int = 26, signal: int = 9, mode: str = "long_short") -> pd.Series:
    """Return the target exposure (+1 long, -1 short, 0 flat) per bar."""
    check_mode(mode)
    check_positive(fast=fast, slow=slow, signal=signal)
    if fast >= slow:
        raise ValueError(f"macd_trend needs fast < slow (got fast={fast}, slow={slow})")
    close = bars["close"]
    macd = close.ewm(span=int(fast), adjust=False).mean() - close.ewm(span=int(slow), adjust=False).mean()
    line = macd.ewm(span=int(signal), adjust=False).mean()
    out = np.sign(macd - line)
    if mode == "long_flat":
        out = out.clip(lower=0.0)
    out.iloc[: int(slow) + int(signal)] = 0.0
    return out
