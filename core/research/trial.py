"""One research trial: a risk-checked backtest of one parameter set on one symbol, returned as a small record.

:func:`run_trials` is what the executor ships to a Dask worker (:func:`run_trial` is one trial).
It takes the bars by reference (a scattered frame) and :class:`TrialSpec` values, and gives each
trial what :func:`core.backtest.run_backtest` gives with a fresh in-memory risk engine (every order
is checked, as in paper and live trading), the one fill model of the ``trading`` costs
(:meth:`FillModel.from_costs`: commission, slippage, volume cap) and the protective stop of
``risk.stop``, so a trial equals a single backtest with the same inputs. Trials the compiled risk
path can run go through :class:`core.backtest.batch.SharedBars` (bars validated once per task,
indicators shared); the others through ``run_backtest``'s event path. A record holds plain numbers:
the report's metrics, the per-bar Sharpe ratio with its skew and kurtosis (for the deflated Sharpe
ratio) and the equity at each week's end (for the overfitting check).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.research.dsr import sharpe_moments

METRICS = ("sharpe", "sortino", "calmar", "return_pct", "cagr_pct", "volatility_pct", "max_drawdown_pct", "exposure_pct", "trades",
           "win_rate_pct", "profit_factor", "fees", "final_equity", "bars", "periods_per_year")
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


@dataclass(frozen=True)
class TrialSpec:
    """What one trial runs; ``rows`` slices the frame (start, stop) and the first ``warmup`` rows are history only."""

    key: str
    symbol: str
    strategy: str
    params: dict[str, Any]
    limits: Any  # core.risk.limits.RiskLimits
    cash: float = 10_000.0
    commission: float = 0.0
    size: float = 1.0
    lot_size: float = 1.0
    slippage_bps: float = 0.0
    max_volume_share: float = 0.0  # 0 = no cap
    stop: Any = None  # core.engine.protect.StopPolicy of risk.stop, or None (no protective stops)
    rows: tuple[int, int] | None = None
    warmup: int = 0
    daily: bool = False  # also return the daily equity (walk-forward test windows)
    tags: dict[str, Any] = field(default_factory=dict)


def trial_key(params: dict[str, Any], symbol: str, extra: str = "") -> str:
    """Return the stable key of a parameter set on a symbol (the unique key of a stored trial)."""
    text = json.dumps({"params": params, "symbol": symbol, "extra": extra}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _finite(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def run_trial(frame: pd.DataFrame, spec: TrialSpec) -> dict[str, Any]:
    """Backtest ``spec`` on ``frame`` with the risk engine on; return its record (errors are returned, not raised)."""
    return run_trials(frame, [spec])[0]


def run_trials(frame: pd.DataFrame, specs: Sequence[TrialSpec]) -> list[dict[str, Any]]:
    """Run :func:`run_trial` for each spec on the same ``frame``, sharing the work that does not depend on the parameters.

    Trials the compiled risk path can run (:class:`core.backtest.batch.SharedBars`) share the
    validated bars, the calendar, the week ends and indicators such as moving averages; the
    others run ``run_backtest`` on the event path as before. Every record equals the one the
    trial gives on its own.
    """
    shared: dict[tuple[int, int] | None, list[Any]] = {}  # rows -> [SharedBars, its _WeekEnds once a run needs them]
    classes: dict[str, type] = {}  # strategy name -> class, looked up in the catalog once (it scans the user's folder)
    return [_run_one(frame, spec, shared, classes) for spec in specs]


def _run_one(frame: pd.DataFrame, spec: TrialSpec, shared: dict[tuple[int, int] | None, list[Any]], classes: dict[str, type]) -> dict[str, Any]:
    from core.backtest import run_backtest
    from core.backtest.batch import SharedBars
    from core.backtest.run import check_amounts
    from core.brokers.paper.fill_model import FillModel
    from core.risk.limits import RiskEngine
    from core.risk.state import MemoryStore
    from core.strategies import make_strategy

    record: dict[str, Any] = {"key": spec.key, "symbol": spec.symbol, "params": dict(spec.params), "tags": dict(spec.tags)}
    data = frame if spec.rows is None else frame.iloc[spec.rows[0]:spec.rows[1]]
    fill_model = FillModel.from_costs(spec.commission, spec.slippage_bps, spec.max_volume_share)
    try:
        check_amounts(spec.cash, spec.size, spec.lot_size)
        if spec.strategy in classes:
            strategy = classes[spec.strategy](**dict(spec.params))
        else:
            strategy = make_strategy(spec.strategy, **dict(spec.params))
            classes[spec.strategy] = type(strategy)
        if spec.rows not in shared:
            shared[spec.rows] = [SharedBars(data, spec.symbol), None]
        bars = shared[spec.rows][0]
        run = bars.run(strategy, limits=spec.limits, fill_model=fill_model, cash=spec.cash, size=spec.size, lot_size=spec.lot_size, stop=spec.stop,
                       warmup=spec.warmup)
        if run is None:  # not on the compiled path: the event-driven backtest, as a single run would take
            result = run_backtest(data, strategy, symbol=spec.symbol, cash=spec.cash, commission=spec.commission, size=spec.size,
                                  lot_size=spec.lot_size, risk=RiskEngine(spec.limits, store=MemoryStore()), baseline=False, warmup=spec.warmup,
                                  stop=spec.stop, fill_model=fill_model)
            report, path, equity = result.report, result.path, result.equity
            values, summary = equity.to_numpy(dtype=float), equity_summary(equity, daily=spec.daily)
        else:
            report, path, values = run.report, run.path, run.equity
            if shared[spec.rows][1] is None:
                shared[spec.rows][1] = _WeekEnds(run.index)
            summary = shared[spec.rows][1].summary(values, daily=spec.daily)
    except ValueError as exc:
        record["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return record
    rets = values[1:] / values[:-1] - 1.0
    metrics = {k: _finite(report.get(k)) for k in METRICS}
    metrics.update({k: _finite(v) for k, v in sharpe_moments(rets).items()})
    metrics["path"] = path
    record["metrics"] = metrics
    record["equity"] = summary
    return record


class _WeekEnds:
    """The week ends (Fridays, as ``resample("W-FRI")`` labels them) of an index and the position of each week's last bar."""

    def __init__(self, index: pd.DatetimeIndex) -> None:
        index = pd.DatetimeIndex(index)
        self.index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        self.ok = bool(self.index.is_monotonic_increasing)
        if self.ok and len(self.index):
            per_day = 86_400 * {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[getattr(self.index, "unit", "ns")]
            day = np.floor_divide(self.index.asi8, per_day)
            label = day + (1 - day) % 7  # the Friday on or after the bar's day: day 1 (1970-01-02) was a Friday
            self.last = np.append(np.flatnonzero(np.diff(label) != 0), len(label) - 1)
            self.weeks = label[self.last].astype(int).tolist()
        else:
            self.last, self.weeks = np.array([], dtype=np.int64), []
        self.start = self.index[0].isoformat() if len(self.index) else None
        self.end = self.index[-1].isoformat() if len(self.index) else None

    def summary(self, values: np.ndarray, daily: bool = False) -> dict[str, Any]:
        """Return :func:`equity_summary` of the equity ``values`` on this index."""
        if not (self.ok and np.isfinite(values).all()):  # resample's rules for NaN and unsorted bars are pandas' to apply
            return _summary_by_resample(pd.Series(values, index=self.index), daily)
        out: dict[str, Any] = {"start": self.start, "end": self.end, "final": float(values[-1]) if len(values) else None, "weeks": list(self.weeks),
                               "weekly": np.round(values[self.last], 6).tolist()}
        if daily:
            out["days"] = [t.isoformat() for t in self.index]
            out["daily"] = [float(v) for v in values]
        return out


def equity_summary(equity: pd.Series, daily: bool = False) -> dict[str, Any]:
    """Return the start, end, final value and the week-end equity (days since 1970 and values) of ``equity``."""
    return _WeekEnds(pd.DatetimeIndex(equity.index)).summary(equity.to_numpy(dtype=float), daily=daily)


def _summary_by_resample(series: pd.Series, daily: bool) -> dict[str, Any]:
    index = pd.DatetimeIndex(series.index)
    weekly = series.resample("W-FRI").last().dropna()
    out: dict[str, Any] = {
        "start": index[0].isoformat() if len(index) else None, "end": index[-1].isoformat() if len(index) else None,
        "final": float(series.iloc[-1]) if len(series) else None,
        "weeks": ((weekly.index - EPOCH) // pd.Timedelta(days=1)).astype(int).tolist(), "weekly": np.round(weekly.to_numpy(dtype=float), 6).tolist(),
    }  # fmt: skip
    if daily:
        out["days"] = [t.isoformat() for t in index]
        out["daily"] = [float(v) for v in series]
    return out


def weekly_returns(equity: dict[str, Any]) -> pd.Series:
    """Return the week-over-week returns stored in an equity summary, indexed by week-end date."""
    idx = EPOCH + pd.to_timedelta(np.asarray(equity.get("weeks", []), dtype=np.int64), unit="D")
    values = pd.Series(np.asarray(equity.get("weekly", []), dtype=float), index=idx)
    return values.pct_change().iloc[1:]
