"""One research trial: a risk-checked backtest of one parameter set on one symbol, returned as a small record.

:func:`run_trial` is what the executor ships to a Dask worker. It takes the bars by
reference (a scattered frame) and a :class:`TrialSpec`, runs the public
:func:`core.backtest.run_backtest` with a fresh in-memory risk engine (every order is
checked, as in paper and live trading), the one fill model of the ``trading`` costs
(:meth:`FillModel.from_costs`: commission, slippage, volume cap) and the protective stop
of ``risk.stop``, so a trial equals a single backtest with the same inputs, and returns plain numbers: the report's
metrics, the per-bar Sharpe ratio with its skew and kurtosis (for the deflated
Sharpe ratio) and the equity at each week's end (for the overfitting check).
"""

from __future__ import annotations

import hashlib
import json
import math
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
    from core.backtest import run_backtest
    from core.brokers.paper.fill_model import FillModel
    from core.risk.limits import RiskEngine
    from core.risk.state import MemoryStore

    record: dict[str, Any] = {"key": spec.key, "symbol": spec.symbol, "params": dict(spec.params), "tags": dict(spec.tags)}
    data = frame if spec.rows is None else frame.iloc[spec.rows[0]:spec.rows[1]]
    try:
        result = run_backtest(data, spec.strategy, symbol=spec.symbol, params=spec.params, cash=spec.cash, commission=spec.commission,
                              size=spec.size, lot_size=spec.lot_size, risk=RiskEngine(spec.limits, store=MemoryStore()), baseline=False,
                              warmup=spec.warmup, stop=spec.stop,
                              fill_model=FillModel.from_costs(spec.commission, spec.slippage_bps, spec.max_volume_share))
    except ValueError as exc:
        record["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return record
    equity = result.equity
    rets = equity.to_numpy(dtype=float)
    rets = rets[1:] / rets[:-1] - 1.0
    metrics = {k: _finite(result.report.get(k)) for k in METRICS}
    metrics.update({k: _finite(v) for k, v in sharpe_moments(rets).items()})
    metrics["path"] = result.path
    record["metrics"] = metrics
    record["equity"] = equity_summary(equity, daily=spec.daily)
    return record


def equity_summary(equity: pd.Series, daily: bool = False) -> dict[str, Any]:
    """Return the start, end, final value and the week-end equity (days since 1970 and values) of ``equity``."""
    index = pd.DatetimeIndex(equity.index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    series = pd.Series(equity.to_numpy(dtype=float), index=index)
    weekly = series.resample("W-FRI").last().dropna()
    out: dict[str, Any] = {
        "start": index[0].isoformat() if len(index) else None, "end": index[-1].isoformat() if len(index) else None,
        "final": float(series.iloc[-1]) if len(series) else None,
        "weeks": ((weekly.index - EPOCH) // pd.Timedelta(days=1)).astype(int).tolist(), "weekly": [round(float(v), 6) for v in weekly],
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
