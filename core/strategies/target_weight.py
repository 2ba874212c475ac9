"""A constant-weight strategy whose exposure follows the next-bar VaR forecast (forecast-driven exposure).

Every bar it rebalances each symbol to ``weight / n_symbols`` of equity; with ``forecast``
on, the whole target book is first scaled by ``min(1, var_budget / forecast VaR)``
(:func:`core.risk.forecast.exposure_scale`), so exposure falls when forecast risk rises
and returns when it calms. The orders then pass the risk engine, whose ``forecast_var``
rule refuses any addition beyond the same budget. It records the forecast VaR of the
book it asked for on every bar (``forecasts_``) for the forecast-vs-realised backtest.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from core.engine import Strategy, StrategyContext, StrategyError
from core.risk.forecast import VarForecaster, exposure_scale


class TargetWeight(Strategy):
    """Hold ``weight`` of equity, optionally scaled to a forecast VaR budget.

    Parameters
    ----------
    weight : float
        Fraction of equity held in total (split evenly over the symbols).
    forecast : bool
        Forecast the target book's VaR every bar (recorded in ``forecasts_``).
    scale : bool
        Scale the target book to ``var_budget`` by that forecast (False: only record it).
    var_budget : float
        Next-bar VaR budget as a fraction of equity.
    model : str
        Forecaster (``garch_t`` or ``quantile``).
    level : float
        VaR level.
    window : int
        Trailing returns per forecast.
    band : float
        Trade only when a target differs from the position by more than this fraction.
    """

    name = "target_weight"
    defaults: ClassVar[dict[str, Any]] = {
        "weight": 1.0, "forecast": True, "scale": True, "var_budget": 0.02, "model": "garch_t", "level": 0.99, "window": 250, "band": 0.02,
    }  # fmt: skip

    def validate(self) -> None:
        """Check the weight and budget."""
        if not 0 < self.params["weight"] <= 1:
            raise StrategyError(f"weight must lie in (0, 1], not {self.params['weight']}")
        if not 0 < self.params["var_budget"] < 1:
            raise StrategyError(f"var_budget must lie in (0, 1), not {self.params['var_budget']}")

    def on_start(self, ctx: StrategyContext) -> None:
        """Build the forecaster."""
        p = self.params
        self.forecaster_ = VarForecaster(p["model"], p["level"], p["window"]) if p["forecast"] else None
        self.forecasts_: list[tuple[Any, float, float]] = []  # (ts, forecast VaR of the target book, scale)

    def on_bar(self, ctx: StrategyContext) -> None:
        """Rebalance every symbol to its (scaled) target weight."""
        p = self.params
        equity = ctx.equity()
        prices = {s: float(ctx.history(s).close[-1]) for s in ctx.symbols if len(ctx.history(s))}
        values = {s: p["weight"] / len(ctx.symbols) * equity for s in prices}
        scale, var = 1.0, float("nan")
        if self.forecaster_ is not None:
            closes = {s: ctx.history(s).close[-p["window"] - 1 :] for s in prices}
            # The same arithmetic as the risk hook's returns (core.engine.market_state), so both share the fits.
            rets = pd.DataFrame({s: np.diff(c) / c[:-1] for s, c in closes.items()})
            if len(rets) < p["window"]:
                return  # not enough history for a forecast: stay out rather than guess
            fc = self.forecaster_.forecast(rets)
            scale = exposure_scale(fc, values, equity, p["var_budget"]) if p["scale"] else 1.0
            var = fc.book_var({s: v * scale for s, v in values.items()}, equity)
        self.forecasts_.append((ctx.now, var, scale))
        for s, price in prices.items():
            target = np.trunc(values[s] * scale / price)
            delta = target - ctx.position(s)
            if abs(delta) < 1 or abs(delta) <= p["band"] * abs(target):
                continue
            (ctx.buy if delta > 0 else ctx.sell)(s, float(abs(delta)), reason="target_weight")
