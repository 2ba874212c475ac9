"""Backtest services: run a strategy over bundled or user data, list the strategies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.backtest.risk_path import risk_changes_from
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
    slippage_bps: float = 0.0,
    max_volume_share: float = 0.0,
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
    ``report["warnings"]``. Fills follow the paper loop's fill model
    (:meth:`FillModel.from_costs`): ``commission`` on notional, ``slippage_bps`` against every
    market and stop fill, at most ``max_volume_share`` of a bar's volume (0 = no cap); with
    ``risk="configured"`` every position carries the ``risk.stop`` protective stop.
    """
    from core.brokers.paper.fill_model import FillModel

    risk_engine = make_backtest_risk(risk, ctx)
    stop = backtest_stop(risk, ctx)
    fill_model = FillModel.from_costs(commission, slippage_bps, max_volume_share)
    if symbol and "," in symbol:
        frames = {s.strip().upper(): load_bars(s.strip(), timeframe=timeframe, start=start, end=end, ctx=ctx) for s in symbol.split(",") if s.strip()}
        inst, check = strategy_for_backtest(strategy, params, frames, ctx)
        result = _run(frames, inst, cash=cash, fill_model=fill_model, size=parse_size(size), lot_size=lot_size, path=path,  # type: ignore[arg-type]
                      risk=risk_engine, stop=stop)
    else:
        notes: list[str] = []
        frame = load_bars(symbol, data=data, timeframe=timeframe, start=start, end=end, repair=repair, notes=notes, ctx=ctx)
        name = (symbol or "").upper() or (data or "DATA").rsplit("/", 1)[-1].split(".")[0]
        inst, check = strategy_for_backtest(strategy, params, {name: frame}, ctx)
        result = _run(frame, inst, symbol=name, cash=cash, fill_model=fill_model, size=parse_size(size), lot_size=lot_size,
                      path=path, risk=risk_engine, stop=stop)  # type: ignore[arg-type]
        repairs = [n for n in notes if n.startswith("repaired: ")]
        if repairs:
            result.report["warnings"] = [*result.report.get("warnings", []), *repairs]
    result.report["risk"] = risk
    result.report["risk_changes"] = result_risk_changes(result, risk_engine)
    stopped = stopped_by(result.report)
    if stopped:
        result.report["warnings"] = [*result.report.get("warnings", []), stopped]
    mark_checked(result.report, check)
    return result


def result_risk_changes(result: BacktestResult, engine: Any) -> dict[str, Any]:
    """Return :func:`risk_changes` of one backtest: from the engine's audit, or the compiled path's decision table (it writes no audit)."""
    if result.path == "fast_risk" and result.decisions is not None:
        return risk_changes_from(result.decisions)
    return risk_changes(engine.store.entries)


def risk_changes(audit: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Count the orders the risk engine shrank or vetoed in a run, by reason (the limit that bound).

    Returns ``{"shrink": n, "veto": m, "reasons": {(action, reason): count}}`` from the engine's audit entries.
    """
    out: dict[str, Any] = {"shrink": 0, "veto": 0, "reasons": {}}
    for entry in audit:
        data = entry.get("data") or {}
        action = data.get("action")
        if action in ("shrink", "veto"):
            out[action] += 1
            key = (action, data.get("reason") or "no reason given")
            out["reasons"][key] = out["reasons"].get(key, 0) + 1
    return out


def stopped_by(report: Mapping[str, Any]) -> str | None:
    """Return why a run made no trade when the risk engine vetoed its orders (the most frequent veto reason), else ``None``."""
    changes = report.get("risk_changes") or {}
    vetoes = {reason: n for (action, reason), n in (changes.get("reasons") or {}).items() if action == "veto"}
    if report.get("trades") or not vetoes:
        return None
    reason, n = max(vetoes.items(), key=lambda kv: kv[1])
    return (f"no trade: the risk engine vetoed {changes['veto']} orders, most often ({n}x) for: {reason} "
            "(compare with risk='permissive', or change the risk limits)")


def risk_changes_rows(changes: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return ``changes["reasons"]`` as JSON rows ``{"action", "reason", "count"}``, most frequent first."""
    rows = [{"action": a, "reason": r, "count": n} for (a, r), n in (changes.get("reasons") or {}).items()]
    return sorted(rows, key=lambda row: -row["count"])


PERMISSIVE = {
    "max_position_pct": 1.0, "max_gross_exposure": 1e9, "max_net_exposure": 1e9, "max_drawdown_pct": 1.0, "daily_loss_cap_pct": 1.0,
    "max_correlation": 1.0, "veto_correlation": 1.0 + 1e-9, "max_cluster_pct": 1e9, "var_budget_pct": 1e9, "max_order_notional": 1e18,
    "max_orders_per_minute": 10**9, "min_history": 0,
}  # fmt: skip


def backtest_stop(mode: str = "configured", ctx: Context | None = None):
    """Return the protective-stop policy of a backtest: ``risk.stop`` in force (``configured``), none when ``permissive``."""
    from core.engine.protect import StopPolicy
    from core.services.settings import risk_limits

    return StopPolicy.from_settings(risk_limits(ctx).stop) if mode == "configured" else None


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
