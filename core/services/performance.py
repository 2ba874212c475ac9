"""Performance of an equity curve for the tear sheet: headline metrics, monthly returns, rolling Sharpe."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from core.risk import metrics


def equity_returns(equity: pd.Series) -> pd.Series:
    """Return the period returns of an equity curve (the first point is the start, not a return)."""
    return equity.astype(float).pct_change().dropna()


def performance_summary(equity: pd.Series, periods_per_year: int = metrics.PERIODS_PER_YEAR) -> dict[str, float]:
    """Return total return, CAGR, volatility, Sharpe, Sortino, Calmar, max drawdown (positive fraction) and its length in periods."""
    r = equity_returns(equity)
    if len(r) < 2:
        raise ValueError(f"the equity curve has {len(equity)} points; the tear sheet needs at least 3")
    out: dict[str, float] = {"total_return": float(equity.iloc[-1] / equity.iloc[0] - 1)}
    out.update({k: float(v) for k, v in metrics.summary(r, 0.0, periods_per_year).to_dict().items()})
    return out


def monthly_returns(equity: pd.Series) -> pd.DataFrame:
    """Return compounded returns per calendar month: rows are years, columns month numbers 1-12 (NaN without data).

    The first month counts from the curve's first point.
    """
    if equity.empty:
        return pd.DataFrame(columns=range(1, 13), dtype=float)
    month_end = equity.resample("ME").last().dropna()
    prev = month_end.shift(1)
    prev.iloc[0] = equity.iloc[0]
    r = month_end / prev - 1
    table = pd.DataFrame({"year": r.index.year, "month": r.index.month, "r": r.to_numpy()}).pivot(index="year", columns="month", values="r")
    return table.reindex(columns=range(1, 13))


def rolling_sharpe(equity: pd.Series, window: int = 63, periods_per_year: int = metrics.PERIODS_PER_YEAR) -> pd.Series:
    """Return the annualised Sharpe ratio (zero risk-free rate, sample std) of each trailing ``window`` of returns."""
    r = equity_returns(equity)
    mean, std = r.rolling(window).mean(), r.rolling(window).std()
    return (mean / std.replace(0.0, np.nan) * math.sqrt(periods_per_year)).dropna()
