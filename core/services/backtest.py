"""Backtest services: run a strategy over bundled or user data, list the strategies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.backtest.run import BacktestResult
from core.backtest.run import run_backtest as _run
from core.services.context import Context
from core.services.data import load_bars
from core.services.strategies import mark_checked, registry, strategy_for_backtest


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


def list_strategies(ctx: Context | None = None) -> dict[str, dict[str, Any]]:
    """Return every strategy (built-in, library, the user's folder) with its default parameters."""
    known, _, _ = registry(ctx)
    return {name: dict(cls.defaults) for name, cls in sorted(known.items())}


def backtest(
    strategy: Any = "sma_cross",
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
    repair: bool = False,
    ctx: Context | None = None,
) -> BacktestResult:
    """Backtest ``strategy`` on a bundled ``symbol`` or the file ``data`` and return the result.

    ``strategy`` is a name (built-in, library or a file in the strategies folder), a
    ``Strategy`` subclass, or a ``signals(bars, **params)`` function, e.g. one written in a
    notebook. A signals strategy is checked for look-ahead on these bars first; the result
    is in ``report["check"]``, and a failure adds a warning.

    Symbols may be comma-separated for a multi-asset run on one portfolio. Every order
    passes the risk engine, as in paper and live trading: ``risk="configured"`` uses the
    limits in force (config plus Settings-page overrides); ``risk="permissive"`` keeps the
    engine in the path with limits that never bind (100 % positions, no halts), to compare
    with libraries that have no risk engine (e.g. backtesting.py's all-in example).
    With ``repair`` a ``data`` file's offending rows are dropped; each repair is listed in
    ``report["warnings"]``.
    """
    risk_engine = make_backtest_risk(risk, ctx)
    if symbol and "," in symbol:
        frames = {s.strip().upper(): load_bars(s.strip(), timeframe=timeframe, start=start, end=end, ctx=ctx) for s in symbol.split(",") if s.strip()}
        inst, check = strategy_for_backtest(strategy, params, frames, ctx)
        result = _run(frames, inst, cash=cash, commission=commission, size=parse_size(size), lot_size=lot_size, path=path,  # type: ignore[arg-type]
                      risk=risk_engine)
    else:
        notes: list[str] = []
        frame = load_bars(symbol, data=data, timeframe=timeframe, start=start, end=end, repair=repair, notes=notes, ctx=ctx)
        name = (symbol or "").upper() or (data or "DATA").rsplit("/", 1)[-1].split(".")[0]
        inst, check = strategy_for_backtest(strategy, params, {name: frame}, ctx)
        result = _run(frame, inst, symbol=name, cash=cash, commission=commission, size=parse_size(size), lot_size=lot_size,
                      path=path, risk=risk_engine)  # type: ignore[arg-type]
        repairs = [n for n in notes if n.startswith("repaired: ")]
        if repairs:
            result.report["warnings"] = [*result.report.get("warnings", []), *repairs]
    result.report["risk"] = risk
    mark_checked(result.report, check)
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
