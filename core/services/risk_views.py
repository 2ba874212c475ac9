"""Risk views for the UI: rolling VaR of a symbol, limit utilisation, beta and concentration of the paper book, correlations."""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from core.portfolio import repo as portfolio_repo
from core.risk import metrics
from core.risk.limits import RiskEngine, RiskLimits
from core.services.book import bundled_returns, market_state, paper_asof, paper_state
from core.services.context import Context, get_context
from core.services.data import load_bars
from core.services.risk import benchmark_beta, in_report_units
from core.services.settings import risk_limits


def rolling_var(symbol: str, window: int = 250, level: float = 0.99, timeframe: str = "1d", ctx: Context | None = None) -> pd.DataFrame:
    """Return one-period VaR of ``symbol`` over time, each point from the ``window`` returns before it (no look-ahead).

    Columns: ``return`` (the realised return), ``hist`` (historical quantile),
    ``param`` (normal), ``cvar_hist`` (mean loss beyond the historical VaR) and
    ``breach`` (the realised loss exceeded yesterday's historical VaR). VaR and CVaR
    are positive loss fractions.
    """
    if not 0.5 < level < 1:
        raise ValueError(f"level must be in (0.5, 1), e.g. 0.99, not {level}")
    r = load_bars(symbol, timeframe=timeframe, ctx=ctx)["close"].pct_change().dropna()
    if len(r) <= window + 1:
        raise ValueError(f"{symbol} has {len(r)} returns; rolling VaR over {window} needs more (use a shorter window)")
    past = r.shift(1)  # the estimate for day t uses returns up to t-1
    roll = past.rolling(window)
    hist = -roll.quantile(1 - level)
    param = -(roll.mean() + NormalDist().inv_cdf(1 - level) * roll.std())
    # The mean of each window's returns at or below its quantile, all windows at once (a Python call per window took ~1 s).
    windows = np.lib.stride_tricks.sliding_window_view(past.to_numpy(dtype=float), window)
    q = np.quantile(windows, 1 - level, axis=1, keepdims=True)
    tail = windows <= q
    with np.errstate(invalid="ignore", divide="ignore"):
        tail_mean = np.where(tail, windows, 0.0).sum(axis=1) / tail.sum(axis=1)
    cvar = -pd.Series(np.where(np.isnan(q[:, 0]), np.nan, tail_mean), index=past.index[window - 1 :])
    out = pd.DataFrame({"return": r, "hist": hist, "param": param, "cvar_hist": cvar}).dropna()
    out["breach"] = -out["return"] > out["hist"]
    return out


def limit_utilisation(account: str = "paper", ctx: Context | None = None) -> list[dict[str, Any]]:
    """Return each limit of the paper book: ``limit``, ``used`` and ``cap`` (fractions of equity) and ``utilisation`` (used / cap)."""
    ctx = ctx or get_context()
    limits = RiskLimits.from_settings(risk_limits(ctx))
    pf = paper_state(account, ctx)
    market = market_state(pf.positions, paper_asof(account, ctx), ctx=ctx)
    values = pf.values(dict(market.prices))
    eq = pf.equity
    largest = max((abs(v) for v in values.values()), default=0.0) / eq
    var = RiskEngine(limits).portfolio_var(values, eq, market.returns) if values and market.returns is not None else 0.0
    rows = [
        ("Largest position", largest, limits.max_position_pct),
        ("Gross exposure", sum(abs(v) for v in values.values()) / eq, limits.max_gross_exposure),
        ("Net exposure", abs(sum(values.values())) / eq, limits.max_net_exposure),
        (f"1-day {limits.var_level:.0%} VaR", max(var, 0.0), limits.var_budget_pct),
        ("Drawdown from peak", max(0.0, 1 - eq / pf.peak_equity) if pf.peak_equity else 0.0, limits.max_drawdown_pct),
        ("Loss today", max(0.0, 1 - eq / pf.day_start_equity) if pf.day_start_equity else 0.0, limits.daily_loss_cap_pct),
    ]
    return [{"limit": n, "used": u, "cap": c, "utilisation": u / c if c else 0.0} for n, u, c in rows]


def correlation_matrix(symbols: list[str] | None = None, min_periods: int = 100, ctx: Context | None = None) -> pd.DataFrame:
    """Return the pairwise correlation of the bundled daily symbols' returns (symbols sharing no history are dropped)."""
    rets = bundled_returns(symbols, ctx=ctx)
    corr = rets.corr(min_periods=min_periods)
    keep = [s for s in corr.columns if corr[s].drop(s).notna().any()]
    return corr.loc[keep, keep]


def book_risk(account: str = "paper", min_points: int = 30, ctx: Context | None = None) -> dict[str, Any]:
    """Return the paper book's risk as of the session clock: VaR/CVaR, Sharpe and drawdown of its daily equity returns, and the
    correlations of the symbols it holds or trades over the 250 days up to that clock (never a later bar).

    Keys: ``asof``, ``start``, ``points``, ``sharpe``, ``max_drawdown_pct`` and ``var_95_hist_pct``, ``cvar_99_param_pct``, ...
    (positive loss percents as in every report, :func:`core.services.risk.in_report_units`; no GARCH), ``correlation`` (DataFrame). Raises ``ValueError`` with
    fewer than ``min_points`` daily equity points.
    """
    from core.portfolio import repo as portfolio_repo
    from core.risk import metrics
    from core.risk.var import var_table

    ctx = ctx or get_context()
    curve = portfolio_repo.load_equity(ctx.store, account)
    equity = pd.Series([p.equity for p in curve], index=pd.DatetimeIndex([p.ts for p in curve]), dtype=float)
    daily = equity.groupby(equity.index.normalize()).last()
    returns = daily.pct_change().dropna()
    if len(returns) < min_points:
        raise ValueError(f"the paper book has {len(returns)} daily returns so far; its risk needs at least {min_points}")
    summary = metrics.summary(returns).to_dict()
    asof = daily.index[-1]
    session = ctx.store.get_setting(f"loop.{ctx.settings.trading.account}.session") or {}
    symbols = sorted(set(session.get("symbols") or []) | set(paper_state(account, ctx=ctx).positions))
    market = market_state(symbols, asof.to_pydatetime(), window=250, ctx=ctx)
    units = in_report_units({"sharpe": summary["sharpe"], "max_drawdown_pct": summary["max_drawdown_pct"], **var_table(returns, garch=False, seed=0)})
    return {"asof": asof, "start": daily.index[0], "points": len(returns), **units,
            "correlation": market.returns.corr() if len(market.returns.columns) > 1 else pd.DataFrame()}


def book_exposure(account: str = "paper", benchmark: str = "SPX", ctx: Context | None = None) -> dict[str, Any]:
    """Return the paper book's ``beta`` against ``benchmark``, its ``concentration``, the number of open ``positions`` and whether
    the account ``exists`` in the store.

    Beta is ``cov(r, r_bench) / var(r_bench)`` of the equity curve's returns on the dates
    both share (None with fewer than two); concentration is the Herfindahl index of the
    absolute position values (1 = one position, 1/n = n equal ones, 0 = flat).
    """
    ctx = ctx or get_context()
    curve = portfolio_repo.load_equity(ctx.store, account)
    equity = pd.Series([p.equity for p in curve], index=pd.DatetimeIndex([p.ts for p in curve]), dtype=float)
    equity = equity[~equity.index.duplicated(keep="last")]
    stored = portfolio_repo.load_state(ctx.store, account)
    # Marked as the Portfolio page shows them: at each position's last price.
    values = {p.symbol: p.quantity * (p.last_price if p.last_price is not None else p.avg_price)
              for p in (stored.positions.values() if stored else ()) if p.quantity}
    return {"benchmark": benchmark, "beta": benchmark_beta(equity.pct_change().dropna(), benchmark, ctx=ctx) if len(equity) > 2 else None,
            "concentration": metrics.concentration(values), "positions": len(values), "exists": stored is not None}
