"""Forecast-driven exposure: Christoffersen's tests, the forecast VaR rule, the 2008 crisis, causality."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from scipy import stats

from core.backtest.run import run_backtest
from core.domain import RiskAction, Side
from core.risk.forecast import VarForecaster, exposure_scale, symbol_forecast
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.types import MarketState, OrderIntent, PortfolioState
from core.risk.var_backtest import christoffersen
from core.services import load_bars
from core.services.exposure import forecast_exposure
from core.strategies.target_weight import TargetWeight

OPEN = {"max_position_pct": 1.0, "max_gross_exposure": 1.0, "max_net_exposure": 1.0, "max_drawdown_pct": 1.0, "daily_loss_cap_pct": 1.0,
        "max_order_notional": 1e15, "max_orders_per_minute": 10**6}  # fmt: skip


def test_christoffersen_matches_a_hand_computed_clustered_sequence():
    # Pairs of [0,0,0,1,1,1,0,0,0,0]: n00=5, n01=1, n10=1, n11=2; pi01=1/6, pi11=2/3, pi=1/3.
    res = christoffersen([0, 0, 0, 1, 1, 1, 0, 0, 0, 0], 0.9)
    assert res.transitions == (5, 1, 1, 2)
    log_null = 6 * math.log(2 / 3) + 3 * math.log(1 / 3)
    log_alt = 5 * math.log(5 / 6) + math.log(1 / 6) + math.log(1 / 3) + 2 * math.log(2 / 3)
    assert res.lr_ind == pytest.approx(-2 * (log_null - log_alt), rel=1e-12)
    assert res.lr_ind == pytest.approx(2.231436, abs=1e-6)
    # Kupiec: x=3 of n=10 at p=0.1.
    lr_uc = -2 * ((7 * math.log(0.9) + 3 * math.log(0.1)) - (7 * math.log(0.7) + 3 * math.log(0.3)))
    assert res.lr_uc == pytest.approx(lr_uc, rel=1e-12)
    assert res.lr_cc == pytest.approx(lr_uc + res.lr_ind, rel=1e-12)
    assert res.p_cc == pytest.approx(stats.chi2.sf(res.lr_cc, 2), rel=1e-12)


def test_christoffersen_independent_hits_and_degenerate_cases():
    # Alternating hits never follow a hit: pi11 = 0 against pi ~ 1/2, strongly "anti-clustered".
    res = christoffersen([0, 1] * 20, 0.5)
    assert res.transitions == (0, 20, 19, 0)
    assert res.p_ind < 0.001
    none = christoffersen(np.zeros(50, dtype=bool), 0.99)
    assert none.lr_ind == 0.0 and none.exceedances == 0
    with pytest.raises(ValueError, match="at least 2"):
        christoffersen([1], 0.99)


def test_garch_forecast_matches_arch_directly():
    r = load_bars("SPX")["close"].pct_change().dropna().to_numpy()[2000:2250]
    mu, sigma, q = symbol_forecast(r, "garch_t", 0.99)
    res = arch_model(r * 100, mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(disp="off", show_warning=False)
    fc = res.forecast(horizon=1, reindex=False)
    nu = res.params["nu"]
    expected_q = stats.t.ppf(0.01, nu) * math.sqrt((nu - 2) / nu)
    assert sigma == pytest.approx(math.sqrt(fc.variance.iloc[-1, 0]) / 100, rel=1e-6)
    assert mu == pytest.approx(fc.mean.iloc[-1, 0] / 100, rel=1e-6)
    assert q == pytest.approx(expected_q, rel=1e-9)


def test_forecast_var_rule_shrinks_an_order_to_the_budget():
    rets = load_bars("SPX")["close"].pct_change().dropna().iloc[2000:2250]
    market = MarketState(returns=pd.DataFrame({"SPX": rets.to_numpy()}), prices={"SPX": 100.0})
    engine = RiskEngine(RiskLimits(**OPEN, var_budget_pct=0.01, forecast_var=True))
    pf = PortfolioState(100_000.0, 100_000.0, 100_000.0, 100_000.0)
    decision = engine.check(OrderIntent("SPX", Side.BUY, 1000, 100.0, lot_size=1.0), pf, market)
    mu, sigma, q = symbol_forecast(rets.to_numpy(), "garch_t", 0.99)
    unit_var = -(mu + q * sigma)
    # VaR is linear in a single long position: the largest value is budget * equity / unit VaR.
    assert decision.action is RiskAction.SHRINK
    assert decision.quantity == math.floor(0.01 * 100_000 / unit_var / 100.0)
    assert "forecast" in decision.reason
    # Without the flag the trailing-window rule decides instead.
    plain = RiskEngine(RiskLimits(**OPEN, var_budget_pct=0.01)).check(OrderIntent("SPX", Side.BUY, 1000, 100.0, lot_size=1.0), pf, market)
    assert "forecast" not in plain.reason


def test_exposure_scale_brings_the_book_to_the_budget():
    rng = np.random.default_rng(3)
    rets = pd.DataFrame(rng.standard_t(5, (250, 2)) * 0.01, columns=["A", "B"])
    fc = VarForecaster("garch_t").forecast(rets)
    values = {"A": 60_000.0, "B": 40_000.0}
    s = exposure_scale(fc, values, 100_000.0, 0.01)
    assert 0 < s < 1
    assert fc.book_var({k: v * s for k, v in values.items()}, 100_000.0) == pytest.approx(0.01, rel=1e-9)
    assert exposure_scale(fc, {"A": 1_000.0}, 100_000.0, 0.01) == 1.0


def test_quantile_model_forecasts_a_positive_var():
    r = load_bars("SPX")["close"].pct_change().dropna().iloc[2000:2250]
    fc = VarForecaster("quantile").forecast(pd.DataFrame({"SPX": r.to_numpy()}))
    assert 0.005 < fc.var(np.array([1.0])) < 0.2


def test_sp500_2008_scaled_breaches_stay_within_the_expected_rate_and_unscaled_do_not(ctx):
    report = forecast_exposure("SPX", "2008-01-01", "2008-12-31", budget=0.02, ctx=ctx)
    scaled, unscaled = report["scaled"]["vs_budget"], report["unscaled"]["vs_budget"]
    print(f"\n2008 breaches of the 2% VaR budget: scaled {scaled['breaches']}/{scaled['n']} ({scaled['rate']:.2%}), "
          f"unscaled {unscaled['breaches']}/{unscaled['n']} ({unscaled['rate']:.2%})")
    assert scaled["n"] == unscaled["n"] >= 250
    assert scaled["kupiec_p"] > 0.05 and scaled["cc_p"] > 0.05  # consistent with the 1% rate
    assert unscaled["kupiec_p"] < 1e-6 and unscaled["rate"] > 0.05  # the unscaled book breaches far more often
    assert report["scaled"]["mean_scale"] < 0.8


def test_forecast_scaling_is_causal_under_truncation():
    bars = load_bars("SPX").loc["2007-06-01":"2008-11-30"]
    end_short = 290

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        strat = TargetWeight(scale=True, var_budget=0.02)
        engine = RiskEngine(RiskLimits(**OPEN, var_budget_pct=0.02, forecast_var=True))
        res = run_backtest({"SPX": frame}, strat, cash=1_000_000.0, risk=engine, warmup=251, baseline=False)
        out = pd.DataFrame(strat.forecasts_, columns=["ts", "var", "scale"]).set_index("ts")
        return out.join(res.equity.rename("equity"))

    full, short = run(bars.iloc[: end_short + 20]), run(bars.iloc[:end_short])
    assert len(short) == end_short - 251 and (short["scale"] < 1).any()
    pd.testing.assert_frame_equal(full.loc[short.index], short)


def test_scale_targets_scales_the_whole_book_to_the_budget_and_leaves_small_books_alone():
    from core.risk.forecast import scale_targets

    rng = np.random.default_rng(5)
    rets = pd.DataFrame(rng.standard_t(5, (250, 2)) * 0.015, columns=["A", "B"])
    fc = VarForecaster("garch_t")
    prices = {"A": 50.0, "B": 20.0}
    big = scale_targets({"A": 1000.0, "B": -2000.0}, prices, 100_000.0, rets, fc, 0.01)
    ratio = big["A"] / 1000.0
    assert 0 < ratio < 1 and big["B"] == pytest.approx(-2000.0 * ratio)
    book = fc.forecast(rets).book_var({s: q * prices[s] for s, q in big.items()}, 100_000.0)
    assert book == pytest.approx(0.01, rel=1e-9)
    assert scale_targets({"A": 10.0}, prices, 100_000.0, rets, fc, 0.01) == {"A": 10.0}
    assert scale_targets({"C": 10.0}, {"C": 1.0}, 100_000.0, rets, fc, 0.01) == {"C": 10.0}  # no forecast: unchanged


def test_exposure_audit_passes_on_the_forecast_scaled_book():
    from core.services.exposure import exposure_audit

    rep = exposure_audit(load_bars("SPX").loc[:"2008-12-31"], "SPX", budget=0.02, n_points=4, seed=1)
    assert rep["ok"], rep["details"]
    assert rep["bars"] == 30 and len(rep["points"]) == 4 and rep["columns"] == ["forecast_var", "exposure_scale", "equity"]
    assert rep["points"][-1] == load_bars("SPX").loc[:"2008-12-31"].index[-2].isoformat()  # the second-to-last bar is always cut


class _CentredVol(TargetWeight):
    """A planted look-ahead: exposure scaled by a volatility over a window centred on the bar (10 bars after it)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        super().__init__(forecast=False)
        self.vol_ = frame["close"].pct_change().rolling(21, center=True, min_periods=5).std()

    def on_bar(self, ctx) -> None:
        var = 2.33 * float(self.vol_.loc[pd.Timestamp(ctx.now)])
        scale = min(1.0, 0.02 / var)
        self.forecasts_.append((ctx.now, var, scale))
        target = math.trunc(ctx.equity() * scale / float(ctx.history("SPX").close[-1]))
        delta = target - ctx.position("SPX")
        if abs(delta) >= 1:
            (ctx.buy if delta > 0 else ctx.sell)("SPX", float(abs(delta)))


def test_exposure_audit_names_a_planted_lookahead_in_the_scaling():
    from core.services.exposure import exposure_audit

    rep = exposure_audit(load_bars("SPX").loc[:"2008-12-31"], "SPX", budget=0.02, n_points=3, make_strategy=_CentredVol)
    assert not rep["ok"] and {"forecast_var", "exposure_scale"} <= set(rep["offending"])


def test_exposure_audit_of_a_series_too_short_to_forecast_says_so():
    from core.services.exposure import exposure_audit

    rep = exposure_audit(load_bars("SPX").iloc[:200], "SPX")
    assert rep["ok"] and rep["points"] == [] and "200 bars" in rep["skipped"]
