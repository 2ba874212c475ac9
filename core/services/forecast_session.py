"""Forecast vs realised of the paper session: the next-bar VaR forecasts of the book it held, tested against what happened.

At the close of every processed bar the session held a book (its positions, from its stored
fills, at that bar's closes). The risk engine's forecaster, with the limits the session started
with (``risk.forecast_model``, the 99% level, 250 returns), forecasts that book's next-bar VaR
from the bars up to that close, exactly what its ``forecast_var`` rule and the ensemble's scaling
use; the next bar's stored equity return is the realised outcome. A breach is a loss beyond the
forecast. Only bars that end with a position count (a flat book has no VaR to test; fees of orders
that fill at the next open would read as breaches of a zero forecast).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.config import RiskSettings
from core.portfolio import repo as portfolio_repo
from core.risk.forecast import VarForecaster, returns_frame
from core.risk.limits import RiskLimits
from core.services.context import Context, get_context
from core.trading.diff import NoSession, is_venue, venue_fill_bars

RETURNS = 260  # the returns the risk hook hands the engine (core.engine.risk_gate.RETURNS_WINDOW); the forecaster keeps its window of them


def session_forecasts(account: str | None = None, *, ctx: Context | None = None) -> dict[str, Any]:
    """Return the forecast-vs-realised test of ``account``'s paper session (default ``trading.account``).

    Keys: ``used`` (whether the session trades with ``risk.forecast_var``), ``model``, ``level``,
    ``coverage`` (n, breaches, rate, Kupiec and Christoffersen statistics; see
    :func:`core.services.exposure.forecast_exposure`) and ``series`` (a frame per bar: the
    forecast VaR of the book held at its close and the next bar's realised return, both as
    fractions of equity). Raises :class:`core.trading.diff.NoSession` before the session's first bar.
    """
    from core.services.diff import _session_bars
    from core.services.exposure import _coverage

    ctx = ctx or get_context()
    account = account or ctx.settings.trading.account
    session = ctx.store.get_setting(f"loop.{account}.session") or {}
    last = ctx.store.get_setting(f"loop.{account}.last_bar")
    if not session or not last:
        raise NoSession(f"account {account!r} has no trading session with a processed bar yet; start paper trading first")
    stored = session.get("risk_limits")
    limits = RiskLimits.from_settings(RiskSettings.model_validate(stored) if stored else ctx.settings.risk)
    load = _session_bars(session, ctx)
    closes = {s: load(s)["close"].loc[: pd.Timestamp(last)] for s in session["symbols"]}
    calendar = pd.DatetimeIndex(sorted(set().union(*(c.index for c in closes.values()))))
    points = portfolio_repo.load_equity(ctx.store, account)
    equity = pd.Series([p.equity for p in points], index=pd.DatetimeIndex([pd.Timestamp(p.ts) for p in points]), dtype=float)
    equity.index = equity.index.tz_localize("UTC") if equity.index.tz is None else equity.index.tz_convert("UTC")
    equity = equity[equity.index.isin(calendar)]
    fills = portfolio_repo.load_fills(ctx.store, account)
    if is_venue(session):
        fills = venue_fill_bars(fills, calendar, session.get("timeframe", "1d"))
    held = pd.DataFrame(0.0, index=equity.index, columns=session["symbols"])
    for f in fills:
        ts = pd.Timestamp(f.ts)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        held.loc[held.index >= ts, f.symbol] += f.side.sign * f.quantity
    forecaster = VarForecaster(limits.forecast_model, limits.var_level, limits.var_window)
    rows = []
    for t, nxt in zip(equity.index[:-1], equity.index[1:], strict=True):
        values = {s: float(held.at[t, s]) * float(closes[s].loc[t]) for s in held.columns if held.at[t, s]}
        if not values:
            continue
        returns = returns_frame({s: c.loc[:t] for s, c in closes.items()}, RETURNS)
        try:
            var = forecaster.forecast(returns).book_var(values, float(equity.loc[t]))
        except (KeyError, ValueError):  # fewer returns than a forecast needs (the first bars of a short warm-up)
            continue
        rows.append((t, var, float(equity.loc[nxt] / equity.loc[t] - 1.0)))
    series = pd.DataFrame(rows, columns=["ts", "forecast_var", "realised"]).set_index("ts")
    out: dict[str, Any] = {"account": account, "used": bool(limits.forecast_var), "model": limits.forecast_model, "level": limits.var_level,
                           "window": limits.var_window, "bars": len(equity), "series": series}  # fmt: skip
    out["coverage"] = _coverage(series["realised"].to_numpy(), series["forecast_var"].to_numpy(), limits.var_level) if len(series) >= 2 else None
    return out


def session_forecast_summary(account: str | None = None, *, ctx: Context | None = None) -> dict[str, Any]:
    """Return :func:`session_forecasts` without the per-bar frame (JSON-ready), plus the mean forecast VaR."""
    rep = session_forecasts(account, ctx=ctx)
    series = rep.pop("series")
    rep["mean_forecast_var"] = float(np.mean(series["forecast_var"])) if len(series) else None
    return rep
