"""Backtest services: run a strategy over bundled or user data, list the strategies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.backtest.run import BacktestResult
from core.backtest.run import run_backtest as _run
from core.services.context import Context
from core.services.data import load_bars
from core.strategies import strategies


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
    risk: str = "configured",
    ctx: Context | None = None,
) -> BacktestResult:
    """Backtest ``strategy`` on a bundled ``symbol`` or the file ``data`` and return the result.

    Symbols may be comma-separated for a multi-asset run on one portfolio. Every order
    passes the risk engine, as in paper and live trading: ``risk="configured"`` uses the
    limits in force (config plus Settings-page overrides); ``risk="permissive"`` keeps the
    engine in the path with limits that never bind (100 % positions, no halts), to compare
    with libraries that have no risk engine (e.g. backtesting.py's all-in example).
    """
    risk_engine = make_backtest_risk(risk, ctx)
    from core.services.strategy import build_strategy

    strat = build_strategy(strategy, params, ctx)
    if symbol and "," in symbol:
        frames = {s.strip().upper(): load_bars(s.strip(), timeframe=timeframe, start=start, end=end, ctx=ctx) for s in symbol.split(",") if s.strip()}
        result = _run(frames, strat, cash=cash, commission=commission, size=parse_size(size), lot_size=lot_size, path=path,  # type: ignore[arg-type]
                      risk=risk_engine)
        result.report["risk"] = risk
        return result
    frame = load_bars(symbol, data=data, timeframe=timeframe, start=start, end=end, ctx=ctx)
    name = (symbol or "").upper() or (data or "DATA").rsplit("/", 1)[-1].split(".")[0]
    result = _run(frame, strat, symbol=name, cash=cash, commission=commission, size=parse_size(size), lot_size=lot_size,
                  path=path, risk=risk_engine)  # type: ignore[arg-type]
    result.report["risk"] = risk
    return result


PERMISSIVE = {
    "max_position_pct": 1.0, "max_gross_exposure": 1e9, "max_net_exposure": 1e9, "max_drawdown_pct": 1.0, "daily_loss_cap_pct": 1.0,
    "max_correlation": 1.0, "veto_correlation": 1.0 + 1e-9, "max_cluster_pct": 1e9, "var_budget_pct": 1e9, "max_order_notional": 1e18,
    "max_orders_per_minute": 10**9, "min_history": 0,
}  # fmt: skip


def make_backtest_risk(mode: str = "configured", ctx: Context | None = None):
    """Return a fresh in-memory risk engine for one backtest (``configured`` or ``permissive`` limits)."""
    from core.risk.limits import RiskEngine, RiskLimits
    from core.risk.state import MemoryStore
    from core.services.settings import risk_limits

    if mode not in ("configured", "permissive"):
        raise ValueError(f"unknown risk mode '{mode}': use 'configured' (the limits in force) or 'permissive' (engine on, limits never bind)")
    limits = RiskLimits.from_settings(risk_limits(ctx))
    if mode == "permissive":
        limits = RiskLimits(**{**{k: getattr(limits, k) for k in limits.__dataclass_fields__}, **PERMISSIVE})
    return RiskEngine(limits, store=MemoryStore())
