"""The built-in library of classic strategies, each a vectorised ``signals(bars, **params)``.

Every module defines ``NAME``, ``PARAMS`` (defaults, whose types are the parameter
types), ``warmup(**params)`` (bars of history after which the value no longer depends
on older bars) and ``signals(bars, **params) -> pandas.Series`` of target exposures in
[-1, 1], decided at a bar's close and filled at the next bar's open. Each passes the
look-ahead check and is reproduced trade for trade by an independent backtesting.py
implementation (``tests/strategies/test_library_parity.py``).
"""

from __future__ import annotations

from types import ModuleType

from core.strategies.library import (
    bollinger_reversion,
    donchian_breakout,
    macd_trend,
    rsi_reversion,
    ts_momentum,
    vol_target_trend,
)

LIBRARY: dict[str, ModuleType] = {
    m.NAME: m for m in (rsi_reversion, bollinger_reversion, donchian_breakout, ts_momentum, macd_trend, vol_target_trend)
}

__all__ = ["LIBRARY"]
