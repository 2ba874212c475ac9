"""VaR/CVaR against textbook formulas, hand-computed historical cases and peers; Kupiec by hand."""

from __future__ import annotations

import math

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from core import services
from core.risk import var
from core.risk.var_backtest import backtest, kupiec_pof


@pytest.fixture(scope="module")
def goog(request) -> pd.Series:
    return services.load_bars("GOOG")["close"].pct_change().dropna()


@pytest.fixture(autouse=True)
def _ctx(ctx):
    yield


def test_historical_by_hand():
    # 21 returns: the 5 % quantile sits at position (21 - 1) * 0.05 = 1 of the sorted sample.
    r = np.array([-0.05, -0.04, *np.linspace(-0.01, 0.02, 19)])
    est = var.historical(r, 0.95)
    assert est.var == pytest.approx(0.04)
    assert est.cvar == pytest.approx(0.045)  # mean of -0.05 and -0.04
    # Between two order statistics the quantile interpolates linearly: position 0.2 at the 99 % level.
    est99 = var.historical(r, 0.99)
    assert est99.var == pytest.approx(0.05 - 0.2 * 0.01)
    assert est99.cvar == pytest.approx(0.05)


def test_historical_matches_empyrical_where_definitions_agree(goog):
    # empyrical's CVaR averages the int((n-1) alpha) + 1 lowest returns: ours is the same set.
    r = goog.iloc[:2001]
    for level in (0.95, 0.99):
        est = var.historical(r, level)
        assert est.var == pytest.approx(-ep.value_at_risk(r, cutoff=1 - level), rel=1e-9)
        assert est.cvar == pytest.approx(-ep.conditional_value_at_risk(r, cutoff=1 - level), rel=1e-9)


def test_historical_n_day_uses_overlapping_compounded_returns():
    r = np.array([0.1, -0.1, 0.2, -0.2])
    two = var.horizon_returns(r, 2)
    np.testing.assert_allclose(two, [1.1 * 0.9 - 1, 0.9 * 1.2 - 1, 1.2 * 0.8 - 1])
    assert var.historical(r, 0.95, horizon=2).var == pytest.approx(-np.quantile(two, 0.05))


@pytest.mark.parametrize("level,z", [(0.95, -1.6448536269514722), (0.99, -2.3263478740408408)])
def test_parametric_normal_textbook(level, z):
    mu, sigma = 0.0005, 0.02
    est = var.normal_var_from_moments(mu, sigma, level)
    assert est.var == pytest.approx(-(mu + z * sigma))
    phi = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    assert est.cvar == pytest.approx(-(mu - sigma * phi / (1 - level)))
    ten = var.normal_var_from_moments(mu, sigma, level, horizon=10)
    assert ten.var == pytest.approx(-(10 * mu + z * sigma * math.sqrt(10)))


def test_parametric_uses_sample_moments(goog):
    est = var.parametric(goog, 0.99)
    assert est.var == pytest.approx(-(goog.mean() + stats.norm.ppf(0.01) * goog.std(ddof=1)))


def test_cornish_fisher_reduces_to_normal_without_skew_and_kurtosis():
    for z in (-1.645, -2.326):
        assert var.cornish_fisher_z(z, 0.0, 0.0) == z
    # Hand-evaluated expansion at z = -2, S = -0.5, K = 3:
    # -2 + 3(-0.5)/6 + (-8+6)(3)/24 - (-16+10)(0.25)/36 = -2 - 0.25 - 0.25 + 0.041666...
    assert var.cornish_fisher_z(-2.0, -0.5, 3.0) == pytest.approx(-2.4583333333)


def test_cornish_fisher_on_data_uses_sample_skew_and_kurtosis(goog):
    r = goog.to_numpy()
    s, k = stats.skew(r), stats.kurtosis(r)
    z = stats.norm.ppf(0.01)
    zcf = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
    est = var.cornish_fisher(r, 0.99)
    assert est.var == pytest.approx(-(r.mean() + zcf * r.std(ddof=1)))
    # CVaR: the tail average of the CF quantile function, by adaptive quadrature.
    tail, _ = integrate.quad(lambda u: var.cornish_fisher_z(stats.norm.ppf(u), s, k), 0, 0.01, limit=200)
    assert est.cvar == pytest.approx(-(r.mean() + r.std(ddof=1) * tail / 0.01), rel=1e-3)


def test_monte_carlo_converges_to_the_normal_portfolio_formula():
    rng = np.random.default_rng(7)
    cov = np.array([[0.0004, 0.00018], [0.00018, 0.0009]])
    frame = pd.DataFrame(rng.multivariate_normal([0.0005, 0.0002], cov, size=800), columns=["A", "B"])
    w = {"A": 0.6, "B": -0.3}
    wv = np.array([0.6, -0.3])
    mu = frame.mean().to_numpy() @ wv
    sd = math.sqrt(wv @ frame.cov().to_numpy() @ wv)
    est = var.monte_carlo(frame, w, 0.99, n_sims=200_000, seed=1)
    # Sampling error of a 1 % quantile with 200k draws is ~0.6 % of it.
    assert est.var == pytest.approx(-(mu + stats.norm.ppf(0.01) * sd), rel=0.02)
    assert est.cvar == pytest.approx(-(mu - sd * stats.norm.pdf(stats.norm.ppf(0.01)) / 0.01), rel=0.02)
    assert var.monte_carlo(frame, w, 0.99, n_sims=1000, seed=3) == var.monte_carlo(frame, w, 0.99, n_sims=1000, seed=3)
    pv = var.parametric_portfolio(frame, w, 0.99)
    assert pv.var == pytest.approx(est.var, rel=0.02)


def test_monte_carlo_uses_the_correlation():
    # Perfectly negatively correlated assets held long-long hedge each other; the same long-short do not.
    x = np.random.default_rng(0).normal(0, 0.01, 500)
    frame = pd.DataFrame({"A": x, "B": -x})
    hedged = var.monte_carlo(frame, {"A": 0.5, "B": 0.5}, 0.99, n_sims=20_000)
    doubled = var.monte_carlo(frame, {"A": 0.5, "B": -0.5}, 0.99, n_sims=20_000)
    assert hedged.var == pytest.approx(0.0, abs=1e-9)
    assert doubled.var == pytest.approx(2.326 * 0.01 * np.std(x, ddof=1) / 0.01, rel=0.05)


def test_student_t_tail_closed_form_matches_integration():
    nu, alpha = 5.0, 0.01
    q, es = var.std_t_tail(alpha, nu)
    scale = math.sqrt((nu - 2) / nu)
    assert q == pytest.approx(stats.t.ppf(alpha, nu) * scale)
    tail, _ = integrate.quad(lambda u: stats.t.ppf(u, nu), 0, alpha)
    assert es == pytest.approx(tail / alpha * scale, rel=1e-6)
    # Unit variance: the standardised t has variance 1.
    assert stats.t.var(nu) * scale**2 == pytest.approx(1.0)


def test_garch_t_forecast_uses_archs_fitted_distribution(goog):
    from arch import arch_model

    fc = var.garch_t_forecast(goog, horizon=1)
    res = arch_model(goog.reset_index(drop=True) * 100, mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(disp="off")
    f = res.forecast(horizon=1, reindex=False)
    mu, sigma = f.mean.iloc[-1, 0] / 100, math.sqrt(f.variance.iloc[-1, 0]) / 100
    q01 = res.model.distribution.ppf(0.01, [res.params["nu"]])
    assert fc.at(0.99).var == pytest.approx(-(mu + sigma * q01), rel=1e-4)
    assert fc.sigma == pytest.approx(sigma, rel=1e-4)
    assert fc.at(0.99).cvar > fc.at(0.99).var > fc.at(0.95).var > 0
    assert 0 < fc.exposure_scale <= 1


def test_garch_exposure_scale_shrinks_after_a_volatility_burst():
    rng = np.random.default_rng(3)
    calm = rng.standard_t(6, 1500) * 0.01 / math.sqrt(1.5)
    burst = rng.standard_t(6, 10) * 0.06 / math.sqrt(1.5)
    fc = var.garch_t_forecast(np.concatenate([calm, burst]))
    assert fc.exposure_scale < 0.8


def test_var_table_keys_are_positive_loss_fractions(goog):
    table = var.var_table(goog)
    for level in ("95", "99"):
        for method in ("hist", "param", "cf", "mc", "garch"):
            assert table[f"var_{level}_{method}"] > 0
            assert table[f"cvar_{level}_{method}"] >= table[f"var_{level}_{method}"]


def test_bad_inputs_say_what_to_do():
    with pytest.raises(ValueError, match="level must lie"):
        var.historical([0.01, -0.01], 95)
    with pytest.raises(ValueError, match="longer history"):
        var.parametric([0.01], 0.95)


def test_kupiec_by_hand():
    # n = 250, x = 5 at 99 %: LR = -2[245 ln .99 + 5 ln .01] + 2[245 ln .98 + 5 ln .02] = 1.9568 (by hand).
    res = kupiec_pof(5, 250, 0.99)
    assert res.lr == pytest.approx(1.9568, abs=5e-4)
    assert res.p_value == pytest.approx(0.1619, abs=5e-4)
    assert not res.rejected()
    assert res.expected == pytest.approx(2.5)
    # x equal to its expectation gives LR = 0; no exceedance at all uses 0 ln 0 = 0: LR = -2 n ln(1 - p).
    assert kupiec_pof(10, 1000, 0.99).lr == pytest.approx(0.0, abs=1e-12)
    assert kupiec_pof(0, 500, 0.99).lr == pytest.approx(-2 * 500 * math.log(0.99))
    assert kupiec_pof(20, 250, 0.99).rejected()


def test_rolling_backtest_counts_exceedances_without_look_ahead():
    # Every 40-day window holds exactly two -10 % days among +1 % days, so each forecast is known by hand.
    r = np.tile([0.01] * 19 + [-0.1], 10)
    # 97.5 %: quantile position 39 * 0.025 = 0.975 lies between the two -0.1 values: VaR = 0.1, nothing falls below it.
    res = backtest(r, "historical", 0.975, window=40)
    assert res.n == 160 and res.exceedances == 0
    # 95 %: position 1.95 interpolates -0.1 -> 0.01 to +0.0045 (a "gain" quantile): each of the 8 crash days exceeds.
    res95 = backtest(r, "historical", 0.95, window=40)
    assert res95.exceedances == 8
    assert res95.lr == pytest.approx(0.0, abs=1e-12)  # 8 of 160 is exactly the expected 5 %


def test_portfolio_table_matches_its_definitions():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.standard_t(5, (600, 2)) * 0.01, columns=["A", "B"])
    w = {"A": 0.5, "B": -0.25}
    table = var.portfolio_var_table(frame, w, garch=False)
    port = frame["A"] * 0.5 - frame["B"] * 0.25
    assert table["var_99_hist"] == pytest.approx(-np.quantile(port, 0.01))
    wv = np.array([0.5, -0.25])
    sd = math.sqrt(wv @ frame.cov().to_numpy() @ wv)
    assert table["var_95_param"] == pytest.approx(-(frame.mean().to_numpy() @ wv) - stats.norm.ppf(0.05) * sd)
    assert table["var_99_mc"] == pytest.approx(table["var_99_param"], rel=0.03)
    # A short position loses when the asset rises: its VaR is the upper tail of the asset's returns.
    short = var.portfolio_var_table(frame[["A"]], {"A": -1.0}, garch=False)
    assert short["var_99_hist"] == pytest.approx(np.quantile(frame["A"], 0.99))


def test_portfolio_risk_service(ctx):
    out = services.portfolio_risk({"AAPL": 0.3, "MSFT": -0.1}, ctx=ctx)
    rets = pd.DataFrame({s: services.load_bars(s)["close"] for s in ("AAPL", "MSFT")}).pct_change().dropna()
    port = rets["AAPL"] * 0.3 - rets["MSFT"] * 0.1
    assert out["var_95_hist_pct"] == pytest.approx(-100 * ep.value_at_risk(port, 0.05), rel=1e-9)
    assert out["sharpe"] == pytest.approx(ep.sharpe_ratio(port), rel=1e-6)
    assert out["concentration"] == pytest.approx(0.75**2 + 0.25**2)


def test_var_table_monte_carlo_rows_equal_monte_carlo_per_level(goog):
    # var_table draws once for every level; each row must be what monte_carlo() gives for that level with the same seed.
    table = var.var_table(goog, garch=False, seed=4)
    for level in (0.95, 0.99):
        est = var.monte_carlo(goog, None, level, seed=4)
        tag = round(level * 100)
        assert (table[f"var_{tag}_mc"], table[f"cvar_{tag}_mc"]) == (est.var, est.cvar)


def test_portfolio_var_table_monte_carlo_rows_equal_monte_carlo_per_level():
    # the portfolio table also draws once for every level: each row must equal monte_carlo() for that level, same seed
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(rng.normal(0.0003, 0.012, size=(400, 2)), columns=["A", "B"])
    held = {"A": 0.7, "B": -0.2}
    table = var.portfolio_var_table(frame, held, garch=False, seed=2)
    for level in (0.95, 0.99):
        est = var.monte_carlo(frame, held, level, seed=2)
        tag = round(level * 100)
        assert (table[f"var_{tag}_mc"], table[f"cvar_{tag}_mc"]) == (est.var, est.cvar)
