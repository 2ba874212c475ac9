"""Forecast-driven exposure: the VaR forecaster in a backtest, and forecast-vs-realised tests of what it used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from core.risk.limits import RiskEngine, RiskLimits
from core.risk.var_backtest import christoffersen, kupiec_pof
from core.services.context import Context, get_context
from core.services.data import load_bars

# Limits that never bind, so the comparison isolates the VaR rule (the unscaled run has no VaR rule at all).
_OPEN = {"max_position_pct": 1.0, "max_gross_exposure": 1.0, "max_net_exposure": 1.0, "max_drawdown_pct": 1.0, "daily_loss_cap_pct": 1.0,
         "max_order_notional": 1e15, "max_orders_per_minute": 10**6}  # fmt: skip


def _run(bars: pd.DataFrame, symbol: str, warmup: int, scaled: bool, budget: float, model: str, level: float, window: int,
         strategy: Any = None) -> tuple[pd.Series, Any]:
    from core.backtest.run import run_backtest
    from core.strategies.target_weight import TargetWeight

    limits = RiskLimits(**_OPEN, var_budget_pct=budget if scaled else 1e9, var_level=level, var_window=window, forecast_var=scaled, forecast_model=model)
    strategy = strategy or TargetWeight(forecast=True, scale=scaled, var_budget=budget, model=model, level=level, window=window)
    res = run_backtest({symbol: bars}, strategy, cash=1_000_000.0, risk=RiskEngine(limits), warmup=warmup, baseline=False)
    return res.equity, strategy


AUDITED = ("forecast_var", "exposure_scale", "equity")


def exposure_audit(bars: pd.DataFrame, symbol: str, *, budget: float = 0.02, model: str = "garch_t", level: float = 0.99, window: int = 250,
                   traded: int = 30, n_points: int = 3, seed: int = 0, make_strategy: Callable[[pd.DataFrame], Any] | None = None) -> dict[str, Any]:
    """Truncation audit of forecast-driven exposure: nothing at bar t may change when the bars after t are removed.

    Runs the forecast-scaled book (:class:`~core.strategies.target_weight.TargetWeight` through the
    risk engine with ``forecast_var``) over the last ``traded`` bars of ``bars`` (after ``window + 1``
    bars of history), then again on the same bars cut at ``n_points`` bars (random, plus the
    second-to-last). The forecast VaR, the exposure scale and the equity of every bar up to a cut
    must equal the full run's. ``make_strategy(frame)`` replaces the strategy (a test plants a leak with it).
    """
    if len(bars) < window + 3:  # nothing to forecast on: nothing this series could leak
        return {"ok": True, "symbol": symbol, "model": model, "budget": budget, "bars": 0, "points": [], "columns": list(AUDITED), "offending": [],
                "details": {}, "skipped": f"{symbol} has {len(bars)} bars; a forecast needs {window + 1} before the first audited one"}  # fmt: skip
    span = bars.iloc[-(window + 1 + traded) :]
    first = window + 1

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        equity, strat = _run(frame, symbol, first, True, budget, model, level, window, make_strategy(frame) if make_strategy else None)
        out = pd.DataFrame(strat.forecasts_, columns=["ts", "forecast_var", "exposure_scale"]).set_index("ts")
        out.index = pd.DatetimeIndex(out.index)
        return out.join(equity.rename("equity"))

    full = run(span)
    rng = np.random.default_rng(seed)
    candidates = np.arange(first, len(span) - 1)
    picks = set(rng.choice(candidates, size=min(max(n_points - 1, 0), len(candidates)), replace=False).tolist()) | {len(span) - 2}
    details: dict[str, list[str]] = {}
    for t in sorted(int(p) for p in picks):
        cut = run(span.iloc[: t + 1])
        ref = full.reindex(cut.index)
        for col in AUDITED:
            a, b = ref[col].to_numpy(dtype=float), cut[col].to_numpy(dtype=float)
            same = (np.isnan(a) & np.isnan(b)) | np.isclose(a, b, rtol=1e-9, atol=1e-12)
            if not same.all():
                details.setdefault(col, []).append(pd.Timestamp(cut.index[int(np.argmin(same))]).isoformat())
    return {"ok": not details, "symbol": symbol, "model": model, "budget": budget, "bars": len(full),
            "points": [pd.Timestamp(span.index[t]).isoformat() for t in sorted(picks)], "columns": list(AUDITED),
            "offending": sorted(details), "details": details}


def _coverage(realised: np.ndarray, claimed: np.ndarray, level: float) -> dict[str, Any]:
    hits = realised < -claimed
    ch = christoffersen(hits, level)
    kp = kupiec_pof(int(hits.sum()), int(hits.size), level)
    return {"n": int(hits.size), "breaches": int(hits.sum()), "rate": float(hits.mean()), "expected_rate": 1 - level,
            "kupiec_lr": kp.lr, "kupiec_p": kp.p_value, "ind_lr": ch.lr_ind, "ind_p": ch.p_ind, "cc_lr": ch.lr_cc, "cc_p": ch.p_cc,
            "transitions": list(ch.transitions)}  # fmt: skip


def forecast_exposure(
    symbol: str = "SPX",
    start: str = "2008-01-01",
    end: str = "2008-12-31",
    *,
    budget: float | None = None,
    model: str | None = None,
    level: float = 0.99,
    window: int = 250,
    bars: pd.DataFrame | None = None,
    ctx: Context | None = None,
) -> dict[str, Any]:
    """Backtest a fully invested book with and without forecast-driven exposure over ``start..end``.

    Both runs hold ``symbol`` through the risk engine; the scaled one scales its target to
    ``budget / forecast VaR`` and the engine's ``forecast_var`` rule caps additions at the
    budget. The returned report has, per run, the realised next-bar equity returns against
    the VaR budget (breach rate, Kupiec, Christoffersen) and, for the scaled run, the
    forecasts actually used against realised returns.

    Parameters
    ----------
    budget, model
        VaR budget (fraction of equity) and forecaster; default ``risk.var_budget_pct`` and ``risk.forecast_model``.
    window
        Trailing returns per forecast; that many bars before ``start`` are warm-up history.
    bars
        Bars to use instead of the bundled ones.
    """
    ctx = ctx or get_context()
    budget = budget if budget is not None else ctx.settings.risk.var_budget_pct
    model = model or ctx.settings.risk.forecast_model
    bars = bars if bars is not None else load_bars(symbol, ctx=ctx)
    first = int(bars.index.searchsorted(pd.Timestamp(start, tz="UTC")))
    if first < window + 1:
        raise ValueError(f"{symbol}: need {window + 1} bars before {start} for the forecast window, have {first}")
    span = bars.iloc[first - window - 1 :].loc[: pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)]
    warmup = window + 1
    out: dict[str, Any] = {"symbol": symbol.upper(), "start": start, "end": end, "budget": budget, "level": level, "model": model, "window": window}
    curves = {}
    for name, scaled in (("scaled", True), ("unscaled", False)):
        equity, strategy = _run(span, symbol.upper(), warmup, scaled, budget, model, level, window)
        rets = equity.pct_change().iloc[1:]
        fc = pd.DataFrame(strategy.forecasts_, columns=["ts", "forecast_var", "scale"]).set_index("ts")
        fc.index = pd.DatetimeIndex(fc.index)
        # The forecast made at bar t's close is about the return from t to t+1.
        frame = pd.DataFrame({"realised": rets.to_numpy()}, index=rets.index).join(fc.shift(1).reindex(rets.index))
        frame = frame.dropna(subset=["forecast_var"])
        out[name] = {"vs_budget": _coverage(frame["realised"].to_numpy(), np.full(len(frame), budget), level),
                     "forecast_vs_realised": _coverage(frame["realised"].to_numpy(), frame["forecast_var"].to_numpy(), level),
                     "mean_scale": float(frame["scale"].mean()), "return_pct": float(equity.iloc[-1] / equity.iloc[0] - 1) * 100}  # fmt: skip
        curves[name] = frame.assign(equity=equity.reindex(frame.index))
    out["series"] = curves
    return out
