"""Helpers shared by the library's vectorised signals: causal indicators and a position state machine.

Every function here is causal: the value at bar ``i`` depends on inputs up to ``i`` only,
so a signal built from them passes the truncation test of :mod:`core.strategies.lookahead`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

MODES = ("long_short", "long_flat")


def check_mode(mode: str) -> None:
    """Raise ``ValueError`` unless ``mode`` is ``long_short`` or ``long_flat``."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'long_short' or 'long_flat', not {mode!r}")


def check_positive(**values: float) -> None:
    """Raise ``ValueError`` naming the first value that is not positive."""
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive, not {value!r}")


def rsi(close: pd.Series, period: int) -> pd.Series:
    """Return Wilder's RSI: averages of gains and losses smoothed with ``alpha = 1 / period``, seeded by their first ``period``-bar mean."""
    delta = close.diff().to_numpy()
    out = _wilder_rsi(np.ascontiguousarray(delta, dtype=np.float64), int(period))
    return pd.Series(out, index=close.index)


@njit(cache=True)
def _wilder_rsi(delta: np.ndarray, period: int) -> np.ndarray:
    n = delta.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    gain = 0.0
    loss = 0.0
    for i in range(1, period + 1):
        d = delta[i]
        gain += d if d > 0 else 0.0
        loss += -d if d < 0 else 0.0
    gain /= period
    loss /= period
    out[period] = 100.0 if loss == 0 else 100.0 - 100.0 / (1.0 + gain / loss)
    for i in range(period + 1, n):
        d = delta[i]
        gain = (gain * (period - 1) + (d if d > 0 else 0.0)) / period
        loss = (loss * (period - 1) + (-d if d < 0 else 0.0)) / period
        out[i] = 100.0 if loss == 0 else 100.0 - 100.0 / (1.0 + gain / loss)
    return out


def hold(long_entry: pd.Series, long_exit: pd.Series, short_entry: pd.Series, short_exit: pd.Series) -> pd.Series:
    """Return the position (+1, -1, 0) a trader holds who follows four boolean rules bar by bar.

    Flat: enter long on ``long_entry``, else short on ``short_entry``. Long: reverse to
    short on ``short_entry``, else go flat on ``long_exit``. Short: reverse to long on
    ``long_entry``, else go flat on ``short_exit``. The state at ``i`` uses rules up to ``i`` only.
    """
    arrays = [np.ascontiguousarray(s.fillna(False).to_numpy(dtype=np.bool_)) for s in (long_entry, long_exit, short_entry, short_exit)]
    return pd.Series(_hold(*arrays), index=long_entry.index)


@njit(cache=True)
def _hold(le: np.ndarray, lx: np.ndarray, se: np.ndarray, sx: np.ndarray) -> np.ndarray:
    n = le.shape[0]
    out = np.zeros(n)
    state = 0.0
    for i in range(n):
        if state == 0.0:
            if le[i]:
                state = 1.0
            elif se[i]:
                state = -1.0
        elif state > 0:
            if se[i]:
                state = -1.0
            elif lx[i]:
                state = 0.0
        else:
            if le[i]:
                state = 1.0
            elif sx[i]:
                state = 0.0
        out[i] = state
    return out


def never(index: pd.Index) -> pd.Series:
    """Return an all-False rule on ``index`` (the short side of a long-flat strategy)."""
    return pd.Series(False, index=index)


def describe(params: Mapping[str, Any]) -> str:
    """Return ``k=v`` pairs for messages."""
    return ", ".join(f"{k}={v!r}" for k, v in params.items())
