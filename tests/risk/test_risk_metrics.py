"""Metrics against empyrical-reloaded on real bundled returns, and hand-computed cases.

Deliberate differences from empyrical, checked explicitly below:
- our drawdown depth is positive (empyrical: negative);
- our ``risk_free``/``mar`` are annual rates (empyrical: per period), equal at ``rate / 252``.
"""

from __future__ import annotations

import empyrical as ep
import numpy as np
import pandas as pd
import pytest

from core import services
from core.backtest.stats import drawdown_stats
from core.risk import metrics as m

REL = 1e-6


@pytest.fixture(scope="module")
def rets() -> dict[str, pd.Series]:
    return {s: services.load_bars(s)["close"].pct_change().dropna() for s in ("AAPL", "MSFT", "GOOG", "IBM")}


@pytest.fixture(autouse=True)
def _ctx(ctx):  # load_bars needs the process context
    yield


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT", "GOOG"])
def test_single_series_metrics_match_empyrical(rets, symbol):
    r = rets[symbol]
    assert m.sharpe_ratio(r) == pytest.approx(ep.sharpe_ratio(r), rel=REL)
    assert m.sharpe_ratio(r, risk_free=0.02) == pytest.approx(ep.sharpe_ratio(r, risk_free=0.02 / 252), rel=REL)
    assert m.sortino_ratio(r) == pytest.approx(ep.sortino_ratio(r), rel=REL)
    assert m.sortino_ratio(r, mar=0.03) == pytest.approx(ep.sortino_ratio(r, required_return=0.03 / 252), rel=REL)
    assert m.downside_deviation(r) == pytest.approx(ep.downside_risk(r), rel=REL)
    assert m.annual_volatility(r) == pytest.approx(ep.annual_volatility(r), rel=REL)
    assert m.cagr(r) == pytest.approx(ep.annual_return(r), rel=REL)
    assert m.calmar_ratio(r) == pytest.approx(ep.calmar_ratio(r), rel=REL)
    # Documented difference: our depth is positive.
    assert m.max_drawdown(r).depth == pytest.approx(-ep.max_drawdown(r), rel=REL)
    assert m.drawdown_series(r).max() == pytest.approx(-ep.max_drawdown(r), rel=REL)


def test_periods_per_year_is_explicit(rets):
    r = rets["GOOG"]
    assert m.sharpe_ratio(r, periods_per_year=365) == pytest.approx(ep.sharpe_ratio(r, annualization=365), rel=REL)
    assert m.annual_volatility(r, periods_per_year=52) == pytest.approx(ep.annual_volatility(r, annualization=52), rel=REL)


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT", "IBM"])
def test_alpha_beta_against_a_benchmark_match_empyrical(rets, symbol):
    # GOOG starts in 2004: the Series are aligned on common dates, as empyrical does.
    r, b = rets[symbol], rets["GOOG"]
    both = pd.concat([r, b], axis=1, join="inner")
    assert m.beta(r, b) == pytest.approx(ep.beta(both.iloc[:, 0], both.iloc[:, 1]), rel=REL)
    assert m.alpha(r, b) == pytest.approx(ep.alpha(both.iloc[:, 0], both.iloc[:, 1]), rel=REL)
    assert m.alpha(r, b, risk_free=0.02) == pytest.approx(ep.alpha(both.iloc[:, 0], both.iloc[:, 1], risk_free=0.02 / 252), rel=REL)
    # Beta is the OLS slope: numpy's polyfit is an independent reference.
    assert m.beta(r, b) == pytest.approx(np.polyfit(both.iloc[:, 1], both.iloc[:, 0], 1)[0], rel=REL)


def test_max_drawdown_depth_and_duration_by_hand():
    # wealth: 1 -> 1.1 -> 0.99 -> 0.88 -> 1.1 -> 1.21 -> 1.089
    r = [0.10, -0.10, -1 / 9, 0.25, 0.10, -0.10]
    dd = m.max_drawdown(r)
    assert dd.depth == pytest.approx(0.2)  # 0.88 / 1.1 - 1
    assert (dd.peak_index, dd.trough_index) == (1, 3)
    assert dd.duration == 3 and dd.recovered  # peak at 1, regained at 4
    assert dd.longest == 3
    # An unrecovered drawdown runs to the last bar.
    dd2 = m.max_drawdown([0.1, -0.5, 0.1])
    assert dd2.depth == pytest.approx(0.5) and not dd2.recovered and dd2.duration == 2


def test_longest_underwater_can_differ_from_deepest():
    # A shallow long dip (5 bars) then a deep short one (2 bars).
    r = [0.0, -0.01, 0.0, 0.0, 0.0, 0.02, -0.3, 0.5]
    dd = m.max_drawdown(r)
    assert dd.depth == pytest.approx(0.3)
    assert dd.duration == 2
    assert dd.longest == 5
    # The report's drawdown duration is the longest time under water, as the backtest's report counts it.
    assert m.summary(r).max_drawdown_duration == 5
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + np.asarray(r))])
    assert drawdown_stats(wealth, pd.date_range("2020-01-01", periods=wealth.size))[1] == 5


def test_trade_statistics_by_hand():
    pnl = [100.0, -50.0, 0.0, 200.0, -100.0]
    assert m.win_rate(pnl) == pytest.approx(2 / 5)
    assert m.profit_factor(pnl) == pytest.approx(300 / 150)
    assert m.expectancy(pnl) == pytest.approx(30.0)
    assert m.profit_factor([1.0, 2.0]) == float("inf")
    assert np.isnan(m.win_rate([]))


def test_concentration_is_herfindahl_of_absolute_weights():
    assert m.concentration({"A": 50.0, "B": -50.0}) == pytest.approx(0.5)
    assert m.concentration([60.0, 20.0, 20.0]) == pytest.approx(0.36 + 0.04 + 0.04)
    assert m.concentration({"A": 1.0}) == 1.0
    assert m.concentration({}) == 0.0


def test_summary_collects_the_headline_numbers(rets):
    s = m.summary(rets["AAPL"])
    assert s.sharpe == pytest.approx(ep.sharpe_ratio(rets["AAPL"]), rel=REL)
    assert s.max_drawdown_pct == pytest.approx(-ep.max_drawdown(rets["AAPL"]), rel=REL)
    assert s.periods == len(rets["AAPL"]) and s.periods_per_year == 252


def test_correlation_with_one_column_equals_pandas_pairwise_corr_and_a_hand_case():
    """The risk engine's correlation rule reads one column of the correlation matrix (core.risk._window.corr_with)."""
    import numpy as np
    import pandas as pd

    from core.risk._window import corr_with

    # Hand case: y = 1,2,3,4; x1 = 2,4,6,8 (r = 1); x2 = 4,3,2,1 (r = -1); x3 = 1,3,2,4:
    # dx = -1.5, .5, -.5, 1.5; dy = -1.5, -.5, .5, 1.5 -> sxy = 2.25 - .25 - .25 + 2.25 = 4, sxx = syy = 5 -> r = 0.8
    arr = np.array([[1, 2, 4, 1], [2, 4, 3, 3], [3, 6, 2, 2], [4, 8, 1, 4]], dtype=float)
    assert np.allclose(corr_with(arr, 2), [1.0, -1.0, 0.8], atol=1e-15)
    assert np.isnan(corr_with(arr, 5)).all()  # fewer than min_periods rows
    rng = np.random.default_rng(7)
    for _ in range(100):
        a = rng.normal(size=(int(rng.integers(0, 80)), int(rng.integers(2, 10))))
        a[:, -1] = 3.0  # no variance -> NaN, as pandas
        a[rng.random(a.shape) < 0.2] = np.nan  # gaps: pairwise-complete rows
        ref = pd.DataFrame(a).corr(min_periods=20)[0].drop(0).to_numpy()
        got = corr_with(a, 20)
        assert np.array_equal(np.isnan(ref), np.isnan(got))
        assert np.allclose(ref, got, rtol=0, atol=1e-12, equal_nan=True)


def test_var_terms_give_the_covariance_quadratic_form():
    """The VaR check's O(k) terms equal w'Cw and w'mu with C = np.cov, for a book w = w0 + t*e_j."""
    import numpy as np

    from core.risk._window import var_terms

    rng = np.random.default_rng(3)
    for _ in range(50):
        k = int(rng.integers(2, 40))
        arr = rng.normal(0.0005, 0.02, size=(int(rng.integers(2, 260)), k)) @ rng.normal(size=(k, k)) * 0.3
        w0, j = rng.normal(size=k) * 0.05, int(rng.integers(0, k))
        m0, mj, a, b, c = var_terms(arr, w0, j)
        cov, mu = np.atleast_2d(np.cov(arr, rowvar=False, ddof=1)), arr.mean(axis=0)
        for t in (0.0, 0.01, -0.2, 1.5):
            w = w0.copy()
            w[j] += t
            assert np.isclose(a + 2 * t * b + t * t * c, w @ cov @ w, rtol=1e-10, atol=1e-16)
            assert np.isclose(m0 + t * mj, w @ mu, rtol=1e-10, atol=1e-16)
