"""Backtest-lab services for the UI: runs with fees and slippage on bundled or uploaded bars, parameter sweeps."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import pandas as pd

from core.backtest.run import BacktestResult, run_backtest
from core.brokers.paper.fill_model import FillModel
from core.data.providers import DataError, read_table
from core.data.validate import validate_ohlcv
from core.services.backtest import backtest_stop, make_backtest_risk, parse_size, result_risk_changes, stopped_by
from core.services.context import Context
from core.services.data import load_bars
from core.services.strategies import mark_checked, strategy_for_backtest

MIN_UPLOAD_BARS = 30


def bars_from_upload(content: bytes, name: str = "upload.csv", repair: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """Return validated bars from uploaded CSV or Parquet bytes (by ``name``'s suffix) and what validation repaired or noted.

    The same rules as ``--data`` files on the command line: a bad row is an error naming
    it unless ``repair`` drops it (each repair is listed). Raises ``ValueError`` saying what is wrong.
    """
    if not content:
        raise DataError(f"{name}: the file is empty; it needs a header line and rows of OHLCV bars")
    raw = read_table(io.BytesIO(content), name)
    frame, report = validate_ohlcv(raw, repair=repair, source=name)
    if len(frame) < MIN_UPLOAD_BARS:
        raise ValueError(f"{name} has {len(frame)} valid bars; a backtest needs at least {MIN_UPLOAD_BARS}")
    return frame, [*(f"repaired: {r}" for r in report.repairs), *report.notes]


def bars_from_csv(content: bytes, name: str = "upload.csv", repair: bool = False) -> pd.DataFrame:
    """Return validated bars from CSV bytes (a ``ts``/``date`` column and open, high, low, close, volume); raise ``ValueError`` saying what is wrong."""
    return bars_from_upload(content, name if "." in name else f"{name}.csv", repair=repair)[0]


def lab_frames(symbols: Sequence[str], timeframe: str = "1d", start: str | None = None, end: str | None = None,
               ctx: Context | None = None) -> dict[str, pd.DataFrame]:
    """Return bundled bars per symbol (upper-case keys)."""
    if not symbols:
        raise ValueError("pick at least one symbol or upload a CSV or Parquet file")
    return {s.upper(): load_bars(s, timeframe=timeframe, start=start, end=end, ctx=ctx) for s in symbols}


def lab_backtest(frames: Mapping[str, pd.DataFrame], strategy: Any, params: Mapping[str, Any] | None = None, *, cash: float = 10_000.0,
                 commission: float = 0.0, slippage_bps: float = 0.0, size: str | float = "all-in", lot_size: float = 1.0,
                 path: Literal["auto", "event", "fast"] = "auto", risk: str = "configured", max_volume_share: float = 0.0,
                 ctx: Context | None = None) -> BacktestResult:
    """Run ``strategy`` on one or several symbols' bars on one portfolio; every order passes the risk engine.

    ``commission`` is a rate on notional per fill; ``slippage_bps`` moves every
    market fill against the order by that many basis points (the event path runs
    then, as the compiled path has no slippage); ``max_volume_share`` caps each bar's fills
    of a symbol at that share of its volume (0 = no cap). The paper loop uses the same
    model from the ``trading`` settings (:func:`core.services.settings.fill_defaults`, config plus the Settings page). With ``risk="configured"``
    every position carries the ``risk.stop`` protective stop, as in the paper loop. A signals strategy is checked for
    look-ahead on ``frames`` first (``report["check"]``; a failure adds a warning).
    """
    data: Any = dict(frames) if len(frames) > 1 else next(iter(frames.values()))
    symbol = None if len(frames) > 1 else next(iter(frames))
    inst, check = strategy_for_backtest(strategy, params, frames, ctx)
    engine = make_backtest_risk(risk, ctx)
    fill_model = FillModel.from_costs(commission, slippage_bps, max_volume_share)
    result = run_backtest(data, inst, symbol=symbol, cash=cash, size=parse_size(size), fill_model=fill_model,
                          lot_size=lot_size, path=path, risk=engine, stop=backtest_stop(risk, ctx))
    result.report["risk_changes"] = result_risk_changes(result, engine)
    result.report["risk"] = risk
    stopped = stopped_by(result.report)
    if stopped:
        result.report["warnings"] = [*result.report.get("warnings", []), stopped]
    mark_checked(result.report, check)
    return result


def compare_strategies(frames: Mapping[str, pd.DataFrame], names: Sequence[str], *, cash: float = 10_000.0, commission: float = 0.0,
                       slippage_bps: float = 0.0, size: str | float = "all-in", risk: str = "configured", max_volume_share: float = 0.0,
                       progress: Callable[[int, int], None] | None = None) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Backtest each strategy in ``names`` with its default parameters on the same bars and costs.

    Returns one row per strategy (the report's numbers, the check status, or the error)
    and the equity curves by name, for a side-by-side comparison.
    """
    rows, curves = [], {}
    for i, name in enumerate(names, 1):
        row: dict[str, Any] = {"strategy": name}
        try:
            res = lab_backtest(frames, name, None, cash=cash, commission=commission, slippage_bps=slippage_bps, size=size, risk=risk,
                               max_volume_share=max_volume_share)
            row.update({k: v for k, v in res.report.items() if isinstance(v, int | float) and not isinstance(v, bool)})
            check = res.report.get("check")
            row["check"] = "—" if check is None else ("ok" if check["ok"] else "LOOKS AHEAD" if check["lookahead"] else "fails")
            curves[name] = res.equity
        except ValueError as exc:
            row["error"] = str(exc)
        rows.append(row)
        if progress:
            progress(i, len(names))
    return pd.DataFrame(rows).set_index("strategy"), curves


def buy_and_hold_curve(frames: Mapping[str, pd.DataFrame], cash: float) -> pd.Series:
    """Return the value of ``cash`` split equally across the symbols at the first close and held (no costs), for charts."""
    closes = pd.DataFrame({s: f["close"] for s, f in frames.items()}).ffill().dropna()
    return (closes / closes.iloc[0]).mean(axis=1) * cash


def parameter_sweep(frames: Mapping[str, pd.DataFrame], strategy: str, grid: Mapping[str, Sequence[Any]], *, base: Mapping[str, Any] | None = None,
                    cash: float = 10_000.0, commission: float = 0.0, slippage_bps: float = 0.0, size: str | float = "all-in", lot_size: float = 1.0,
                    progress: Callable[[int, int], None] | None = None, risk: str = "configured", max_volume_share: float = 0.0) -> pd.DataFrame:
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
                               risk=risk, max_volume_share=max_volume_share).report
            row.update({k: v for k, v in rep.items() if isinstance(v, int | float) and not isinstance(v, bool)})
        except ValueError as exc:
            row["error"] = str(exc)
        rows.append(row)
        if progress:
            progress(i, len(combos))
    return pd.DataFrame(rows)
