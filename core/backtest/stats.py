"""Backtest statistics from an equity curve and a trade list.

Conventions (those of empyrical/quantstats, checked against empyrical in the tests):

* Returns are simple per-bar returns of the equity curve, which starts at the
  initial cash on the first bar.
* ``periods_per_year``: trading days (252, or 365 when the data has weekend bars,
  as crypto does) times bars per trading day (see
  :func:`core.risk.metrics.infer_periods_per_year`); daily equities therefore use 252.
* Volatility and Sharpe use the sample standard deviation (ddof=1); Sortino's
  downside deviation is ``sqrt(mean(min(r, 0)^2))`` over all returns; the risk-free
  rate is 0. CAGR is ``(final / initial) ** (periods_per_year / n_returns) - 1``.
* Max drawdown is the worst fall from a running peak of the curve, as a positive
  percent; its duration is the longest time from a peak to the bar that recovers it
  (or to the last bar), in bars and days (backtesting.py's "Max. Drawdown Duration").
* Exposure is the share of bars that end with a position.
* Trades are closed round trips; the position still open at the end counts in
  the final equity, not in the trade statistics (as in backtesting.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from core.risk.metrics import infer_periods_per_year


def periods_per_year(index: pd.DatetimeIndex) -> float:
    """Return how many bars make a year for ``index`` (the calendar rule every report uses)."""
    return infer_periods_per_year(index)


@njit(cache=True)
def _drawdown(equity: np.ndarray) -> tuple[float, int, int]:
    worst, longest, longest_end = 0.0, 0, 0
    peak, peak_i = -np.inf, 0
    for i in range(equity.shape[0]):
        # A drawdown lasts from its peak to the bar that recovers it (or to the last bar).
        if (equity[i] < peak or i - peak_i > 1) and i - peak_i > longest:
            longest, longest_end = i - peak_i, i
        if equity[i] >= peak:
            peak, peak_i = equity[i], i
        dd = equity[i] / peak - 1.0
        worst = min(worst, dd)
    return worst, longest, longest_end


def drawdown_stats(equity: np.ndarray, index: pd.DatetimeIndex) -> tuple[float, int, float]:
    """Return (max drawdown % (negative), longest peak-to-recovery time in bars, in days)."""
    worst, bars, end = _drawdown(np.ascontiguousarray(equity, dtype=np.float64))
    stamps = index.asi8  # integer ticks: the same quotient as (index[end] - index[end - bars]) / 1 day, without two Timestamps
    days = (stamps[end] - stamps[end - bars]) / (pd.Timedelta(days=1) / pd.Timedelta(1, unit=getattr(index, "unit", "ns")))
    return worst * 100, int(bars), float(days)


def compute_report(equity: pd.Series, trades: pd.DataFrame, cash: float, fees: float, exposure: np.ndarray | None = None,
                   ppy: float | None = None) -> dict[str, Any]:
    """Return the report dict for an equity curve (indexed by time) and its closed trades."""
    index = pd.DatetimeIndex(equity.index)
    pnl = trades["pnl"].to_numpy(dtype=float) if len(trades) else np.array([])
    rpct = trades["return_pct"].to_numpy(dtype=float) if len(trades) else np.array([])
    return report_from_arrays(equity.to_numpy(dtype=float), index, pnl, rpct, cash, fees, exposure, ppy or periods_per_year(index))


def report_from_arrays(values: np.ndarray, index: pd.DatetimeIndex, pnl: np.ndarray, rpct: np.ndarray, cash: float, fees: float,
                       exposure: np.ndarray | None, ppy: float) -> dict[str, Any]:
    """Return :func:`compute_report` from plain arrays: equity values on ``index``, closed trades' P&L and return in percent."""
    final = float(values[-1]) if values.size else cash
    rets = values[1:] / values[:-1] - 1.0 if values.size > 1 else np.array([])
    n = rets.size
    mean = float(rets.mean()) if n else 0.0
    std = float(rets.std(ddof=1)) if n > 1 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(rets, 0.0) ** 2))) if n else 0.0
    growth = final / cash if cash else 0.0
    cagr = growth ** (ppy / n) - 1.0 if n and growth > 0 else (-1.0 if n else 0.0)
    max_dd, dd_bars, dd_days = drawdown_stats(values, index) if values.size else (0.0, 0, 0.0)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    nan = float("nan")
    report = {
        "start": index[0].isoformat() if len(index) else None,
        "end": index[-1].isoformat() if len(index) else None,
        "bars": int(values.size),
        "initial_equity": float(cash),
        "final_equity": final,
        "return_pct": (growth - 1.0) * 100,
        "cagr_pct": cagr * 100,
        "volatility_pct": std * math.sqrt(ppy) * 100,
        "sharpe": mean / std * math.sqrt(ppy) if std > 0 else nan,
        "sortino": mean * ppy / (downside * math.sqrt(ppy)) if downside > 0 else nan,
        "calmar": cagr / abs(max_dd / 100) if max_dd < 0 else nan,
        "max_drawdown_pct": 0.0 - max_dd,  # a positive percent, as in every --json report
        "max_drawdown_bars": dd_bars,
        "max_drawdown_days": dd_days,
        "exposure_pct": float(np.mean(exposure)) * 100 if exposure is not None and exposure.size else 0.0,
        "trades": len(pnl),
        "win_rate_pct": len(wins) / len(pnl) * 100 if len(pnl) else nan,
        "profit_factor": float(wins.sum() / -losses.sum()) if losses.size else (float("inf") if wins.size else nan),
        "expectancy": float(pnl.mean()) if len(pnl) else nan,
        "best_trade_pct": float(rpct.max()) if len(rpct) else nan,
        "worst_trade_pct": float(rpct.min()) if len(rpct) else nan,
        "fees": float(fees),
        "periods_per_year": ppy,
    }
    return report
