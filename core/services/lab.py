"""Backtest-lab services for the UI: runs with fees and slippage on bundled or uploaded bars, parameter sweeps."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import pandas as pd

from core.backtest.run import BacktestResult, run_backtest
from core.brokers.paper.fill_model import FillModel
from core.data.validate import validate_ohlcv
from core.services.backtest import make_backtest_risk, parse_size
from core.services.context import Context
from core.services.data import load_bars


def bars_from_csv(content: bytes, name: str = "upload") -> pd.DataFrame:
    """Return validated bars from CSV bytes (a ``ts``/``date`` column and open, high, low, close, volume); raise ``ValueError`` saying what is wrong."""
    try:
        raw = pd.read_csv(io.BytesIO(content))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{name} is not a readable CSV file: {exc}") from None
    frame, _ = validate_ohlcv(raw, repair=True, source=name)
    if len(frame) < 30:
        raise ValueError(f"{name} has {len(frame)} valid bars; a backtest needs at least 30")
    return frame


def lab_frames(symbols: Sequence[str], timeframe: str = "1d", start: str | None = None, end: str | None = None,
               ctx: Context | None = None) -> dict[str, pd.DataFrame]:
    """Return bundled bars per symbol (upper-case keys)."""
    if not symbols:
        raise ValueError("pick at least one symbol or upload a CSV file")
    return {s.upper(): load_bars(s, timeframe=timeframe, start=start, end=end, ctx=ctx) for s in symbols}


def _fill_model(commission: float, slippage_bps: float) -> FillModel:
    return FillModel.flat_commission(commission, slippage_bps=slippage_bps)


def lab_backtest(frames: Mapping[str, pd.DataFrame], strategy: str, params: Mapping[str, Any] | None = None, *, cash: float = 10_000.0,
                 commission: float = 0.0, slippage_bps: float = 0.0, size: str | float = "all-in", lot_size: float = 1.0,
                 path: Literal["auto", "event", "fast"] = "auto", risk: str = "configured") -> BacktestResult:
    """Run ``strategy`` on one or several symbols' bars on one portfolio; every order passes the risk engine.

    ``commission`` is a rate on notional per fill; ``slippage_bps`` moves every
    market fill against the order by that many basis points (the event path runs
    then, as the compiled path has no slippage).
    """
    data: Any = dict(frames) if len(frames) > 1 else next(iter(frames.values()))
    symbol = None if len(frames) > 1 else next(iter(frames))
    from core.services.strategy import build_strategy

    return run_backtest(data, build_strategy(strategy, dict(params or {})), symbol=symbol, cash=cash, size=parse_size(size),
                        fill_model=_fill_model(commission, slippage_bps),
                        lot_size=lot_size, path=path, risk=make_backtest_risk(risk))


def buy_and_hold_curve(frames: Mapping[str, pd.DataFrame], cash: float) -> pd.Series:
    """Return the value of ``cash`` split equally across the symbols at the first close and held (no costs), for charts."""
    closes = pd.DataFrame({s: f["close"] for s, f in frames.items()}).ffill().dropna()
    return (closes / closes.iloc[0]).mean(axis=1) * cash


def parameter_sweep(frames: Mapping[str, pd.DataFrame], strategy: str, grid: Mapping[str, Sequence[Any]], *, base: Mapping[str, Any] | None = None,
                    cash: float = 10_000.0, commission: float = 0.0, slippage_bps: float = 0.0, size: str | float = "all-in", lot_size: float = 1.0,
                    progress: Callable[[int, int], None] | None = None, risk: str = "configured") -> pd.DataFrame:
    """Backtest every combination of ``grid`` and return one row per run: the parameters and the report's numbers.

    Invalid combinations (e.g. fast >= slow) are skipped with their error in ``error``.
    ``progress(done, total)`` is called after each run.
    """
    names = list(grid)
    combos = list(itertools.product(*(grid[n] for n in names)))
    rows = []
    for i, values in enumerate(combos, 1):
        params = {**dict(base or {}), **dict(zip(names, values, strict=True))}
        row: dict[str, Any] = dict(zip(names, values, strict=True))
        try:
            rep = lab_backtest(frames, strategy, params, cash=cash, commission=commission, slippage_bps=slippage_bps, size=size, lot_size=lot_size,
                               risk=risk).report
            row.update({k: v for k, v in rep.items() if isinstance(v, int | float) and not isinstance(v, bool)})
        except ValueError as exc:
            row["error"] = str(exc)
        rows.append(row)
        if progress:
            progress(i, len(combos))
    return pd.DataFrame(rows)
