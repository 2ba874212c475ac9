"""risk.forecast_var in the ensemble: each bar's targets are scaled so the book's next-bar GARCH-t VaR stays within the budget.

Every scaling the strategy does is recorded and checked against ``arch`` fitted directly on the
bar's trailing returns recomputed with pandas (not against our forecaster), and the returns it was
given end at the bar being decided (nothing later).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from scipy import stats

from core.risk.limits import RiskEngine, RiskLimits

BUDGET = 0.001  # 0.1% of equity: the small Kelly-sized book of autumn 2008 exceeds it on some bars


def _arch_var(r: np.ndarray) -> float:
    """1-day 99% VaR of a unit long position from a GARCH(1,1)-t fitted by arch itself."""
    res = arch_model(r * 100, mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(disp="off", show_warning=False)
    fc = res.forecast(horizon=1, reindex=False)
    nu = float(res.params["nu"])
    q = stats.t.ppf(0.01, nu) * math.sqrt((nu - 2) / nu)
    return -(fc.mean.iloc[-1, 0] / 100 + q * math.sqrt(fc.variance.iloc[-1, 0]) / 100)


def test_ensemble_scales_its_targets_to_the_forecast_var_budget(ctx, monkeypatch):
    from core import services
    from core.backtest.run import run_backtest
    from core.strategies import ensemble

    ctx.settings.risk.forecast_var = True
    ctx.settings.risk.var_budget_pct = BUDGET
    ctx.settings.risk.max_position_pct = 1.0  # let the VaR budget, not the position cap, bind
    spx = services.load_bars("SPX")
    model = services.train(["SPX"], bars={"SPX": spx.loc[:"2008-04-30"]}, preset="tiny", members=("rf",), n_splits=3, regime=False,
                           importance_rows=0, ctx=ctx)["model_id"]  # fmt: skip
    calls: list[tuple] = []
    real = ensemble.scale_targets

    def spy(targets, prices, equity, returns, forecaster, budget):
        out = real(targets, prices, equity, returns, forecaster, budget)
        calls.append((dict(targets), dict(prices), equity, returns.copy(), dict(out), budget))
        return out

    monkeypatch.setattr(ensemble, "scale_targets", spy)
    strategy = services.build_strategy("ensemble", {"model_id": model, "min_probability": 0.5}, ctx)
    frame = spx.loc["2007-01-01":"2008-11-28"]
    warmup = int(frame.index.searchsorted(pd.Timestamp("2008-09-01", tz="UTC")))  # trades the crash of autumn 2008
    run_backtest({"SPX": frame}, strategy, risk=RiskEngine(RiskLimits.from_settings(ctx.settings.risk)), warmup=warmup, baseline=False)
    assert len(calls) > 20
    closes = spx["close"]
    scaled = 0
    for targets, prices, equity, returns, out, budget in calls:
        assert budget == BUDGET
        now = returns.index[-1]
        assert now in frame.index[warmup:]  # a traded bar, and the returns end at it (nothing later)
        expected = (closes.loc[:now].pct_change().dropna().iloc[-len(returns) :]).to_numpy()
        np.testing.assert_allclose(returns["SPX"].to_numpy(), expected, rtol=1e-9, atol=1e-15)
        unit = _arch_var(expected[-250:])
        value = targets["SPX"] * prices["SPX"] / equity
        after = out["SPX"] * prices["SPX"] / equity
        if abs(value) * unit > BUDGET * (1 + 1e-6):
            scaled += 1
            assert abs(after) * unit == pytest.approx(BUDGET, rel=2e-3)  # scaled down to the budget (arch's optimiser vs ours)
        else:
            assert out == targets  # within the budget: left alone
    print(f"\nforecast scaling: {scaled} of {len(calls)} bars scaled down to the budget")
    assert scaled > 5
