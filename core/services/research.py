"""Research services: parameter sweeps with the deflated Sharpe ratio and the PBO, walk-forward optimisation, on Dask.

Every trial is a backtest whose orders pass the risk engine (``risk="configured"``:
the limits in force and the ``risk.stop`` protective stop; ``"permissive"``: engine on,
limits never bind, no stop) and whose fills follow the one fill model (commission,
slippage, volume cap), so a trial equals :func:`core.services.lab.lab_backtest` with the same inputs. Trials run on
the research executor: an in-process Dask ``LocalCluster`` by default, or the
cluster at ``research.scheduler_address``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from core.research import grid as _grid
from core.research import repo
from core.research.executor import DaskExecutor, SequentialExecutor, executor_from_settings
from core.research.sweep import SweepResult, load_sweep, run_sweep
from core.research.walkforward_opt import WalkForwardResult, walk_forward_optimise
from core.services.backtest import backtest_stop, make_backtest_risk, parse_size
from core.services.context import Context, get_context
from core.services.data import load_bars

Progress = Callable[[int, int], None]


def research_executor(ctx: Context | None = None, *, workers: int | None = None, sequential: bool = False) -> DaskExecutor | SequentialExecutor:
    """Return the configured executor: the cluster at ``research.scheduler_address``, else a local one (or none: ``sequential``)."""
    if sequential:
        return SequentialExecutor()
    return executor_from_settings((ctx or get_context()).settings, workers)


_shared: DaskExecutor | None = None
_shared_lock = threading.Lock()


def shared_research_executor(ctx: Context | None = None) -> DaskExecutor:
    """Return a process-wide Dask executor kept open between sweeps (the app starts its cluster once, not per sweep)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.client is None:
            executor = research_executor(ctx)
            assert isinstance(executor, DaskExecutor)
            executor.__enter__()  # held open for the life of the process; closed by Dask at exit
            _shared = executor
        return _shared


def close_shared_research_executor() -> None:
    """Close the process-wide executor and its local cluster, if one was started (tests, shutdown)."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared._depth = 1
            _shared.__exit__(None, None, None)
        _shared = None


def parse_grid(specs: Sequence[str] | Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """Return a grid from ``["fast=5:50:5", "slow=20:200:10"]`` (a mapping passes through as lists)."""
    if isinstance(specs, Mapping):
        return {k: list(v) for k, v in specs.items()}
    return _grid.parse_grid(list(specs))


def _symbols(symbols: str | Sequence[str]) -> list[str]:
    items = symbols.split(",") if isinstance(symbols, str) else list(symbols)
    out = [s.strip().upper() for s in items if s and s.strip()]
    if not out:
        raise ValueError("give at least one symbol, e.g. --symbols AAPL,MSFT")
    return out


def _frames(symbols: str | Sequence[str], frames: Mapping[str, pd.DataFrame] | None, timeframe: str, start: str | None, end: str | None,
            ctx: Context) -> dict[str, pd.DataFrame]:
    if frames is not None:
        return dict(frames)
    return {s: load_bars(s, timeframe=timeframe, start=start, end=end, ctx=ctx) for s in _symbols(symbols)}


def sweep(
    strategy: str = "sma_cross",
    symbols: str | Sequence[str] = "AAPL",
    grid: Sequence[str] | Mapping[str, Sequence[Any]] = ("fast=5:50:5", "slow=20:200:10"),
    *,
    random: int | None = None,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    frames: Mapping[str, pd.DataFrame] | None = None,
    timeframe: str = "1d",
    start: str | None = None,
    end: str | None = None,
    cash: float = 10_000.0,
    commission: float = 0.0,
    size: str | float = "all-in",
    lot_size: float = 1.0,
    slippage_bps: float = 0.0,
    max_volume_share: float = 0.0,
    risk: str = "configured",
    workers: int | None = None,
    sequential: bool = False,
    executor: DaskExecutor | SequentialExecutor | None = None,
    progress: Progress | None = None,
    ctx: Context | None = None,
) -> SweepResult:
    """Backtest every parameter set of ``grid`` on every symbol (risk-checked), store each trial, and judge the best.

    The result's ``summary`` holds the number of trials, the best trial, its deflated
    Sharpe ratio, the probability of backtest overfitting and plain-words warnings.
    Invalid combinations (e.g. fast >= slow) are skipped and counted. Running the same
    sweep again resumes it: stored trials are not rerun. ``frames`` replaces the
    bundled bars (e.g. an uploaded file); ``params`` fixes parameters not in the grid.
    """
    ctx = ctx or get_context()
    data = _frames(symbols, frames, timeframe, start, end, ctx)
    limits = make_backtest_risk(risk, ctx).limits
    describe = {"timeframe": timeframe, "start": start, "end": end, "risk": risk,
                "data": {s: [str(f.index[0]), str(f.index[-1]), len(f)] for s, f in data.items()}}
    return run_sweep(ctx.store, data, strategy, parse_grid(grid), limits=limits, base=params, sample=random, seed=seed, cash=cash,
                     commission=commission, size=parse_size(size), lot_size=lot_size, slippage_bps=slippage_bps,
                     max_volume_share=max_volume_share, stop=backtest_stop(risk, ctx),
                     executor=executor or research_executor(ctx, workers=workers, sequential=sequential), progress=progress, describe=describe)


def sweep_result(sweep_id: str, ctx: Context | None = None) -> SweepResult:
    """Return a stored sweep with its trials and a fresh summary."""
    return load_sweep((ctx or get_context()).store, sweep_id)


def list_sweeps(limit: int = 50, ctx: Context | None = None) -> list[dict[str, Any]]:
    """Return the newest stored sweeps: id, strategy, symbols, status, trial count, best Sharpe, DSR and PBO."""
    rows = repo.list_sweeps((ctx or get_context()).store, limit)
    out = []
    for r in rows:
        s = r.summary or {}
        out.append({"sweep_id": r.id, "updated": r.updated.isoformat(), "strategy": r.strategy, "symbols": r.symbols, "status": r.status,
                    "trials": s.get("n_trials"), "best_sharpe": ((s.get("dsr") or {}).get("sharpe_annual")),
                    "dsr": (s.get("dsr") or {}).get("dsr"), "pbo": (s.get("pbo") or {}).get("pbo")})
    return out


def var_backtests(
    symbols: str | Sequence[str] = "SPX",
    methods: Sequence[str] | None = None,
    levels: Sequence[float] = (0.95, 0.99),
    *,
    window: int = 500,
    refit_every: int = 20,
    timeframe: str = "1d",
    start: str | None = None,
    end: str | None = None,
    workers: int | None = None,
    sequential: bool = False,
    executor: DaskExecutor | SequentialExecutor | None = None,
    progress: Progress | None = None,
    ctx: Context | None = None,
) -> pd.DataFrame:
    """Backtest each VaR method's rolling one-day forecast on each symbol's close-to-close returns (Kupiec POF), on the research executor."""
    from core.research.var_jobs import var_backtests as _var
    from core.risk.var_backtest import METHODS

    ctx = ctx or get_context()
    returns = {s: load_bars(s, timeframe=timeframe, start=start, end=end, ctx=ctx)["close"].pct_change().dropna() for s in _symbols(symbols)}
    return _var(returns, tuple(methods or METHODS), levels, window=window, refit_every=refit_every,
                executor=executor or research_executor(ctx, workers=workers, sequential=sequential), progress=progress)


def walk_forward(
    strategy: str = "sma_cross",
    symbols: str | Sequence[str] = "AAPL",
    grid: Sequence[str] | Mapping[str, Sequence[Any]] = ("fast=5:50:5", "slow=20:200:10"),
    *,
    windows: int = 4,
    anchored: bool = False,
    random: int | None = None,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    frames: Mapping[str, pd.DataFrame] | None = None,
    timeframe: str = "1d",
    start: str | None = None,
    end: str | None = None,
    cash: float = 10_000.0,
    commission: float = 0.0,
    size: str | float = "all-in",
    lot_size: float = 1.0,
    slippage_bps: float = 0.0,
    max_volume_share: float = 0.0,
    risk: str = "configured",
    workers: int | None = None,
    sequential: bool = False,
    executor: DaskExecutor | SequentialExecutor | None = None,
    progress: Progress | None = None,
    ctx: Context | None = None,
) -> WalkForwardResult:
    """Choose parameters on each training window, trade them on the next; return only the stitched out-of-sample result."""
    ctx = ctx or get_context()
    data = _frames(symbols, frames, timeframe, start, end, ctx)
    return walk_forward_optimise(data, strategy, parse_grid(grid), limits=make_backtest_risk(risk, ctx).limits, windows=windows, anchored=anchored,
                                 base=params, sample=random, seed=seed, cash=cash, commission=commission, size=parse_size(size), lot_size=lot_size,
                                 slippage_bps=slippage_bps, max_volume_share=max_volume_share, stop=backtest_stop(risk, ctx),
                                 executor=executor or research_executor(ctx, workers=workers, sequential=sequential), progress=progress)
