"""Performance and risk metrics of a return series.

Conventions (stated once, used everywhere):

- ``returns`` are simple (not log) per-period returns, e.g. daily ``close.pct_change()``.
- ``periods_per_year`` defaults to 252 (trading days); pass 365 for crypto daily
  bars or ``252 * bars_per_day`` for intraday bars, or let
  :func:`infer_periods_per_year` read it from the bars' timestamps.
- ``risk_free`` is an **annual** rate, turned into a per-period rate by simple
  division ``risk_free / periods_per_year`` (empyrical's ``risk_free`` argument is
  already per period: ours equals theirs at ``risk_free / periods_per_year``).
- Standard deviations are **sample** ones (``ddof=1``) except the Sortino downside
  deviation, which is the root mean square of ``min(r - mar, 0)`` over **all** n
  returns (not only the negative ones), as in empyrical and quantstats.
- Drawdowns are reported as **positive** fractions (0.25 means 25 % below the
  peak); empyrical reports them negative. Duration counts bars from a peak to
  the bar that regains it (or to the end when it never does).
- Beta is ``cov(r, b) / var(b)`` (the ddof cancels). Alpha is Jensen's alpha
  per period, annualised by compounding ``(1 + mean(alpha_t))**P - 1``, as
  empyrical does.
- Trade statistics (win rate, profit factor, expectancy) take per-trade P&L
  (money or returns); a zero P&L counts as a trade but not as a win.

NaNs are dropped before any computation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

PERIODS_PER_YEAR = 252


def infer_periods_per_year(index: pd.DatetimeIndex | Iterable) -> float:
    """Return how many bars make a year on the calendar of ``index``.

    Trading days per year are 365 when any bar falls on a weekend (crypto trades
    every day) and 252 otherwise. Daily bars (a weekend gap is still daily) give that
    number; intraday bars multiply it by the typical number of bars per trading day
    (96 fifteen-minute bars around the clock, 26 in a 6.5-hour equity session); bars
    further apart than 4 days give ``365.25 / spacing in days`` (weekly ~52.2).
    """
    index = pd.DatetimeIndex(index)
    if len(index) < 3:
        return float(PERIODS_PER_YEAR)
    days = index.normalize()
    weekend = bool((days.day_of_week >= 5).any())
    per_year = 365.0 if weekend else 252.0
    step = float(np.median(np.diff(index.asi8[:10_001]))) * (pd.Timedelta(1, unit=index.unit) / pd.Timedelta(days=1))  # in days
    if step < 1.0:
        per_day = float(np.median(pd.Series(1, index=days).groupby(level=0).size()))
        return per_year * per_day
    if step <= 4.0:
        return per_year
    return 365.25 / step


def _clean(returns: Iterable[float] | pd.Series | np.ndarray) -> np.ndarray:
    arr = np.asarray(returns, dtype=float).ravel()
    return arr[~np.isnan(arr)]


def _per_period(rate_annual: float, periods_per_year: float) -> float:
    return rate_annual / periods_per_year


def annual_volatility(returns: Iterable[float], periods_per_year: float = PERIODS_PER_YEAR) -> float:
    """Return the annualised sample standard deviation ``std(r, ddof=1) * sqrt(P)``."""
    r = _clean(returns)
    if r.size < 2:
        return float("nan")
    return float(np.std(r, ddof=1) * np.sqrt(periods_per_year))


def sharpe_ratio(returns: Iterable[float], risk_free: float = 0.0, periods_per_year: float = PERIODS_PER_YEAR) -> float:
    """Return the annualised Sharpe ratio ``mean(r - rf) / std(r - rf, ddof=1) * sqrt(P)``.

    ``risk_free`` is an annual rate (see the module conventions). Returns NaN for
    fewer than two returns or zero dispersion.
    """
    r = _clean(returns) - _per_period(risk_free, periods_per_year)
    if r.size < 2:
        return float("nan")
    sd = np.std(r, ddof=1)
    if sd == 0:
        return float("nan")
    return float(np.mean(r) / sd * np.sqrt(periods_per_year))


def downside_deviation(returns: Iterable[float], mar: float = 0.0, periods_per_year: float = PERIODS_PER_YEAR) -> float:
    """Return the annualised downside deviation ``sqrt(mean(min(r - mar, 0)**2)) * sqrt(P)`` over all n returns.

    ``mar`` (minimum acceptable return) is an annual rate.
    """
    r = _clean(returns) - _per_period(mar, periods_per_year)
    if r.size < 1:
        return float("nan")
    return float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) * np.sqrt(periods_per_year))


def sortino_ratio(returns: Iterable[float], mar: float = 0.0, periods_per_year: float = PERIODS_PER_YEAR) -> float:
    """Return ``mean(r - mar) * P / downside_deviation`` (NaN when there is no downside)."""
    r = _clean(returns)
    if r.size < 2:
        return float("nan")
    dd = downside_deviation(r, mar, periods_per_year)
    if dd == 0:
        return float("nan")
    return float(np.mean(r - _per_period(mar, periods_per_year)) * periods_per_year / dd)


def cagr(returns: Iterable[float], periods_per_year: float = PERIODS_PER_YEAR) -> float:
    """Return the compound annual growth rate, with ``len(r) / P`` years."""
    r = _clean(returns)
    if r.size < 1:
        return float("nan")
    final = float(np.prod(1.0 + r))
    if final <= 0:
        return -1.0
    return final ** (periods_per_year / r.size) - 1.0


def drawdown_series(returns: Iterable[float]) -> np.ndarray:
    """Return the drawdown after each period as a positive fraction below the running peak.

    The starting value (1.0) counts as a peak, so a first-period loss is a drawdown.
    """
    r = _clean(returns)
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    peak = np.maximum.accumulate(wealth)
    return (1.0 - wealth / peak)[1:]


@dataclass(frozen=True, slots=True)
class Drawdown:
    """The deepest drawdown: its depth (positive fraction) and duration in bars.

    ``duration`` counts bars from the peak to the bar that regains it, or to the
    last bar when it is not recovered (``recovered`` is then False). ``longest``
    is the longest time under water of any drawdown, in bars.
    """

    depth: float
    peak_index: int
    trough_index: int
    duration: int
    recovered: bool
    longest: int


def max_drawdown(returns: Iterable[float]) -> Drawdown:
    """Return the deepest drawdown with its duration (indices count periods, 0 = start value)."""
    r = _clean(returns)
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    peak = np.maximum.accumulate(wealth)
    dd = 1.0 - wealth / peak
    trough = int(np.argmax(dd))
    depth = float(dd[trough])
    if depth <= 0:
        return Drawdown(0.0, 0, 0, 0, True, 0)
    peak_idx = int(np.flatnonzero(wealth[: trough + 1] >= peak[trough])[-1])
    after = np.flatnonzero(wealth[trough:] >= peak[trough])
    recovered = after.size > 0
    end = trough + int(after[0]) if recovered else wealth.size - 1
    # Longest time under water of any drawdown, counted like ``duration``: peak bar to recovery bar.
    longest = 0
    run = 0
    for i, flag in enumerate(dd > 0):
        if flag:
            run += 1
            if i == dd.size - 1:
                longest = max(longest, run)
        elif run:
            longest = max(longest, run + 1)
            run = 0
    return Drawdown(depth, peak_idx, trough, end - peak_idx, recovered, longest)


def calmar_ratio(returns: Iterable[float], periods_per_year: float = PERIODS_PER_YEAR) -> float:
    """Return CAGR divided by the maximum drawdown depth (NaN without a drawdown)."""
    depth = max_drawdown(returns).depth
    if depth <= 0:
        return float("nan")
    return cagr(returns, periods_per_year) / depth


def _aligned(returns: pd.Series | np.ndarray, benchmark: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(returns, pd.Series) and isinstance(benchmark, pd.Series):
        both = pd.concat([returns, benchmark], axis=1, join="inner").dropna()
        return both.iloc[:, 0].to_numpy(float), both.iloc[:, 1].to_numpy(float)
    r, b = np.asarray(returns, dtype=float), np.asarray(benchmark, dtype=float)
    if r.shape != b.shape:
        raise ValueError(f"returns ({r.shape}) and benchmark ({b.shape}) differ in length: pass pandas Series to align them by date")
    keep = ~(np.isnan(r) | np.isnan(b))
    return r[keep], b[keep]


def beta(returns: pd.Series | np.ndarray, benchmark: pd.Series | np.ndarray) -> float:
    """Return ``cov(r, b) / var(b)`` on the dates both series share."""
    r, b = _aligned(returns, benchmark)
    if r.size < 2:
        return float("nan")
    bc = b - b.mean()
    var = np.mean(bc * bc)
    if var < 1e-30:
        return float("nan")
    return float(np.mean(bc * r) / var)


def alpha(returns: pd.Series | np.ndarray, benchmark: pd.Series | np.ndarray, risk_free: float = 0.0, periods_per_year: float = PERIODS_PER_YEAR) -> float:
    """Return Jensen's alpha annualised by compounding: ``(1 + mean(r - rf - beta (b - rf)))**P - 1``."""
    r, b = _aligned(returns, benchmark)
    if r.size < 2:
        return float("nan")
    rf = _per_period(risk_free, periods_per_year)
    bt = beta(r - rf, b - rf)
    return float((1.0 + np.mean((r - rf) - bt * (b - rf))) ** periods_per_year - 1.0)


def win_rate(pnl: Iterable[float]) -> float:
    """Return the share of trades with a positive P&L (zero counts as a trade, not a win)."""
    x = _clean(pnl)
    return float(np.mean(x > 0)) if x.size else float("nan")


def profit_factor(pnl: Iterable[float]) -> float:
    """Return gross profit over gross loss (``inf`` with no losing trade, NaN with no trade)."""
    x = _clean(pnl)
    if x.size == 0:
        return float("nan")
    loss = -x[x < 0].sum()
    gain = x[x > 0].sum()
    if loss == 0:
        return float("inf") if gain > 0 else float("nan")
    return float(gain / loss)


def expectancy(pnl: Iterable[float]) -> float:
    """Return the mean P&L per trade (= win_rate * avg_win - loss_rate * avg_loss)."""
    x = _clean(pnl)
    return float(np.mean(x)) if x.size else float("nan")


def concentration(weights: Mapping[str, float] | Iterable[float]) -> float:
    """Return the Herfindahl index of absolute position weights, normalised to sum to one.

    1.0 means one position holds everything; ``1/n`` means n equal positions.
    Returns 0.0 for an empty (or all-zero) book.
    """
    values = np.abs(np.asarray(list(weights.values()) if isinstance(weights, Mapping) else list(weights), dtype=float))
    total = values.sum()
    if total == 0:
        return 0.0
    w = values / total
    return float(np.sum(w * w))


@dataclass(frozen=True, slots=True)
class MetricsReport:
    """The headline metrics of one return series (drawdown as a positive fraction).

    ``max_drawdown_duration`` is the longest time under water of any drawdown (peak bar to
    recovery bar), not the duration of the deepest one: the "Max. Drawdown Duration" of
    backtesting.py and the ``max_drawdown_bars`` of ``python -m core backtest``.
    """

    sharpe: float
    sortino: float
    volatility_ann: float
    cagr: float
    max_drawdown_pct: float
    max_drawdown_duration: int
    calmar: float
    win_rate: float
    profit_factor: float
    expectancy: float
    periods: int
    periods_per_year: float
    risk_free: float

    def to_dict(self) -> dict[str, float | int]:
        """Return the metrics as a plain dict."""
        return asdict(self)


def summary(returns: Iterable[float], risk_free: float = 0.0, periods_per_year: float = PERIODS_PER_YEAR) -> MetricsReport:
    """Return every single-series metric; per-period returns stand in for trades in the trade statistics."""
    r = _clean(returns)
    dd = max_drawdown(r)
    return MetricsReport(
        sharpe=sharpe_ratio(r, risk_free, periods_per_year),
        sortino=sortino_ratio(r, risk_free, periods_per_year),
        volatility_ann=annual_volatility(r, periods_per_year),
        cagr=cagr(r, periods_per_year),
        max_drawdown_pct=dd.depth,
        max_drawdown_duration=dd.longest,  # the longest time under water, as backtesting.py and our backtest report
        calmar=calmar_ratio(r, periods_per_year),
        win_rate=win_rate(r),
        profit_factor=profit_factor(r),
        expectancy=expectancy(r),
        periods=int(r.size),
        periods_per_year=periods_per_year,
        risk_free=risk_free,
    )
