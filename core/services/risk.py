"""Risk services: metrics and VaR of a series, the risk engine, halts and the kill switch."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from core.notify.events import kill_switch_event
from core.risk import metrics
from core.risk.kill_switch import KillSwitch
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.types import OrderIntent, PortfolioState
from core.risk.var import portfolio_var_table, var_table
from core.services.context import Context, get_context
from core.services.data import load_bars
from core.services.notifications import notify_event
from core.sizing import KellySizer

#: Metrics renamed to say their unit (``_pct`` = percent) in every report a command prints.
_PERCENT = {"volatility_ann": "volatility_pct", "cagr": "cagr_pct", "max_drawdown_pct": "max_drawdown_pct", "win_rate": "win_rate_pct",
            "expectancy": "expectancy_pct", "garch_sigma": "garch_sigma_pct"}
_RENAMED = {"max_drawdown_duration": "max_drawdown_bars"}


def in_report_units(values: dict[str, Any]) -> dict[str, Any]:
    """Return metrics and VaR/CVaR in the reports' units: fractions as ``*_pct`` percents, losses positive.

    The convention of every ``--json`` output (see the README's command-line section):
    a key ending ``_pct`` is a percent (12.5 means 12.5 %), drawdowns, VaR and CVaR are
    positive losses, ``_bars`` counts bars; other numbers are plain (ratios, counts, money).
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in _PERCENT or key.startswith(("var_", "cvar_")):
            name = _PERCENT.get(key) or f"{key}_pct"
            out[name] = value * 100 if isinstance(value, float) else value
        else:
            out[_RENAMED.get(key, key)] = value
    return out


def benchmark_beta(returns: pd.Series, benchmark: str | None = "SPX", timeframe: str = "1d", ctx: Context | None = None) -> float | None:
    """Return the beta ``cov(r, r_bench) / var(r_bench)`` of ``returns`` against a bundled symbol (None without shared dates).

    Raises
    ------
    DataError
        When ``benchmark`` is not a bundled symbol.
    """
    if not benchmark:
        return None
    bench = load_bars(benchmark, timeframe=timeframe, ctx=ctx)["close"].pct_change().dropna()
    value = metrics.beta(returns, bench)
    return value if math.isfinite(value) else None


def _need_variation(returns: pd.Series, what: str) -> None:
    """Raise when every return is the same (a constant price): volatility is 0 and Sharpe, VaR and the GARCH fit are undefined."""
    if float(returns.std()) == 0.0:
        raise ValueError(f"{what}: all {len(returns)} returns are {float(returns.iloc[0]):g} (the price never changes), so volatility, "
                         "Sharpe and VaR are undefined; check the close column")


def risk_report(
    symbol: str | None = None,
    *,
    data: str | None = None,
    timeframe: str = "1d",
    risk_free: float = 0.0,
    periods_per_year: float | None = None,
    horizon: int = 1,
    seed: int = 0,
    repair: bool = False,
    benchmark: str | None = "SPX",
    garch: bool = True,
    ctx: Context | None = None,
) -> dict[str, Any]:
    """Return the metrics and VaR/CVaR 95/99 by every method of one series' close-to-close returns.

    ``beta`` is measured against the bundled ``benchmark`` on the dates both share.

    ``periods_per_year`` annualises; by default it follows the bar calendar
    (:func:`core.risk.metrics.infer_periods_per_year`: 365 for daily BTC, 252 for daily equities).

    Units as in every report (:func:`in_report_units`): drawdowns, VaR and CVaR are positive
    percents. Keys: ``sharpe``, ``sortino``, ``max_drawdown_pct``, ``volatility_pct``, ... and
    ``var_95_hist_pct``, ``cvar_99_garch_pct``, ... (methods ``hist``, ``param``, ``cf``, ``mc``, ``garch``).
    With ``repair`` a ``data`` file's offending rows are dropped and listed in ``data_notes``.
    ``garch=False`` leaves out the GARCH(1,1)-t forecast (a model fit: most of the report's time).
    """
    if periods_per_year is not None and periods_per_year < 1:
        raise ValueError(f"periods_per_year must be at least 1 (252 for daily equities), not {periods_per_year}")
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 period, not {horizon}")
    notes: list[str] = []
    bars = load_bars(symbol, data=data, timeframe=timeframe, repair=repair, notes=notes, ctx=ctx if symbol else None)
    returns = bars["close"].pct_change().dropna()
    if len(returns) < 100:
        raise ValueError(f"risk report needs at least 100 returns, got {len(returns)}: use a longer series")
    _need_variation(returns, symbol.upper() if symbol else str(data))
    report: dict[str, Any] = {
        "symbol": symbol.upper() if symbol else data,
        "timeframe": timeframe,
        "start": returns.index[0].isoformat(),
        "end": returns.index[-1].isoformat(),
        "horizon": horizon,
        "benchmark": benchmark.upper() if benchmark else None,
        "beta": benchmark_beta(returns, benchmark, timeframe, ctx),
    }
    ppy = periods_per_year or metrics.infer_periods_per_year(bars.index)
    report.update(in_report_units(metrics.summary(returns, risk_free, ppy).to_dict()))
    report.update(in_report_units(var_table(returns, horizon=horizon, seed=seed, garch=garch)))
    if notes:
        report["data_notes"] = notes
    return report


def risk_engine(ctx: Context | None = None) -> RiskEngine:
    """Return the context's risk engine (limits from ``settings.risk``; halts and audit in its store)."""
    ctx = ctx or get_context()
    engine = ctx.extras.get("risk_engine")
    if engine is None:
        # One engine per context: its orders-per-minute window must see every order.
        engine = RiskEngine(RiskLimits.from_settings(ctx.settings.risk), ctx.store, ctx.clock)
        ctx.extras["risk_engine"] = engine
    return engine


def kelly_sizer(ctx: Context | None = None, **overrides: Any) -> KellySizer:
    """Return a Kelly sizer configured from ``settings.risk``."""
    ctx = ctx or get_context()
    return KellySizer.from_settings(ctx.settings.risk, **overrides)


def risk_status(ctx: Context | None = None) -> dict[str, Any]:
    """Return the kill switch, drawdown halt and daily halt states and the limits."""
    engine = risk_engine(ctx)
    return {**engine.state.status(), "limits": engine.limits_dict()}


def engage_kill_switch(portfolio: PortfolioState, reason: str = "manual", actor: str = "user", ctx: Context | None = None) -> list[OrderIntent]:
    """Halt trading, notify it, and return the orders that flatten ``portfolio`` (send them through the order manager)."""
    engine = risk_engine(ctx)
    orders = KillSwitch(engine.state).engage(portfolio, reason, actor)
    notify_event(kill_switch_event(True, engine.state.clock.now(), actor=actor, reason=reason), ctx=ctx)
    return orders


def rearm_kill_switch(actor: str = "user", ctx: Context | None = None) -> None:
    """Allow trading again after the kill switch, and notify it."""
    engine = risk_engine(ctx)
    KillSwitch(engine.state).rearm(actor)
    notify_event(kill_switch_event(False, engine.state.clock.now(), actor=actor), ctx=ctx)


def reset_drawdown_halt(actor: str, equity: float, ctx: Context | None = None) -> None:
    """Lift the drawdown halt (a person's decision); drawdowns then count from ``equity``."""
    risk_engine(ctx).reset_halt(actor, equity)


def portfolio_risk(
    weights: dict[str, float],
    *,
    timeframe: str = "1d",
    horizon: int = 1,
    periods_per_year: float | None = None,
    seed: int = 0,
    benchmark: str | None = "SPX",
    ctx: Context | None = None,
) -> dict[str, Any]:
    """Return VaR/CVaR by every method, the metrics, beta and concentration of a constant-weight book of bundled symbols.

    ``weights`` are signed position values as fractions of equity, e.g.
    ``{"AAPL": 0.3, "MSFT": -0.1}``. Returns are taken on the dates all symbols share.
    """
    closes = {s.upper(): load_bars(s, timeframe=timeframe, ctx=ctx)["close"] for s in weights}
    returns = pd.DataFrame(closes).pct_change().dropna()
    if len(returns) < 100:
        raise ValueError(f"the symbols share only {len(returns)} return dates; need at least 100")
    w = {s.upper(): float(v) for s, v in weights.items()}
    if not any(w.values()):
        raise ValueError("the portfolio is empty: give at least one non-zero weight")
    port = returns[list(w)] @ pd.Series(w)
    _need_variation(port, "the book")
    report: dict[str, Any] = {"weights": w, "start": returns.index[0].isoformat(), "end": returns.index[-1].isoformat(), "horizon": horizon}
    report["concentration"] = metrics.concentration(w)
    report["benchmark"] = benchmark.upper() if benchmark else None
    report["beta"] = benchmark_beta(port, benchmark, timeframe, ctx)
    report.update(in_report_units(metrics.summary(port, 0.0, periods_per_year or metrics.infer_periods_per_year(returns.index)).to_dict()))
    report.update(in_report_units(portfolio_var_table(returns, w, horizon=horizon, seed=seed)))
    return report
