"""Backtest services: run a strategy over bundled or user data, list the strategies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.backtest.run import BacktestResult
from core.backtest.run import run_backtest as _run
from core.backtest.strategy import strategies
from core.services.context import Context
from core.services.data import load_bars


def parse_size(size: str | float) -> float:
    """Return the equity fraction for ``size``: ``"all-in"`` is 1, otherwise a number in (0, 1]."""
    if isinstance(size, str) and size.strip().lower() in ("all-in", "all_in", "allin"):
        return 1.0
    try:
        value = float(size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be 'all-in' or a fraction of equity in (0, 1] such as 0.5, not {size!r}") from None
    if not 0 < value <= 1:
        raise ValueError(f"size must be 'all-in' or a fraction of equity in (0, 1] such as 0.5, not {size!r}")
    return value


def list_strategies() -> dict[str, dict[str, Any]]:
    """Return every registered strategy with its default parameters."""
    return {name: dict(cls.defaults) for name, cls in sorted(strategies().items())}


def backtest(
    strategy: str = "sma_cross",
    *,
    symbol: str | None = None,
    data: str | None = None,
    params: Mapping[str, Any] | None = None,
    cash: float = 10_000.0,
    commission: float = 0.0,
    size: str | float = "all-in",
    lot_size: float = 1.0,
    timeframe: str = "1d",
    start: str | None = None,
    end: str | None = None,
    path: str = "auto",
    ctx: Context | None = None,
) -> BacktestResult:
    """Backtest ``strategy`` on a bundled ``symbol`` or the file ``data`` and return the result.

    Symbols may be comma-separated for a multi-asset run on one portfolio.
    """
    if symbol and "," in symbol:
        frames = {s.strip().upper(): load_bars(s.strip(), timeframe=timeframe, start=start, end=end, ctx=ctx) for s in symbol.split(",") if s.strip()}
        return _run(frames, strategy, params=params, cash=cash, commission=commission, size=parse_size(size), lot_size=lot_size, path=path)  # type: ignore[arg-type]
    frame = load_bars(symbol, data=data, timeframe=timeframe, start=start, end=end, ctx=ctx)
    name = (symbol or "").upper() or (data or "DATA").rsplit("/", 1)[-1].split(".")[0]
    return _run(frame, strategy, symbol=name, params=params, cash=cash, commission=commission, size=parse_size(size), lot_size=lot_size, path=path)  # type: ignore[arg-type]
