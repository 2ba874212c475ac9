"""Regime classifier: causal (truncation-invariant), filtered probabilities, the 2008 crash."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

from core import services
from core.domain import Regime
from core.models.regime import RegimeClassifier


@pytest.fixture(scope="module")
def spx():
    return services.load_bars("SPX")


@pytest.fixture(scope="module")
def fitted(spx):
    # Parameters estimated on 2001-2006 only; 2008 is out of sample.
    return RegimeClassifier(k_regimes=3, fit_window=None).fit(spx.loc["2001":"2006"])


def test_regime_at_t_does_not_change_when_later_bars_arrive(spx, fitted):
    full = fitted.classify(spx)
    full_ind = fitted.indicators(spx)
    for n in (300, 2000, 2450, 3700, len(spx) - 1):
        part = spx.iloc[:n]
        assert (fitted.classify(part) == full.iloc[:n]).all(), n
        np.testing.assert_array_equal(fitted.indicators(part)["p_turbulent"].to_numpy(), full_ind["p_turbulent"].to_numpy()[:n])


def test_uses_filtered_not_smoothed_probabilities(spx):
    bars = spx.loc["2003":"2005"]
    rc = RegimeClassifier(k_regimes=2, fit_window=None).fit(bars)
    r = 100 * np.diff(np.log(bars["close"].to_numpy()))
    res = MarkovRegression(r, k_regimes=2, switching_variance=True).filter(rc.params_)
    expected = res.filtered_marginal_probabilities[:, rc.turbulent_state_]
    np.testing.assert_allclose(rc.indicators(bars)["p_turbulent"].to_numpy()[1:], expected)
    smoothed = MarkovRegression(r, k_regimes=2, switching_variance=True).smooth(rc.params_).smoothed_marginal_probabilities[:, rc.turbulent_state_]
    assert not np.allclose(expected, smoothed)


def test_labels_the_2008_crash_as_crisis_or_bear(spx, fitted):
    reg = fitted.classify(spx).loc["2008-10-01":"2009-03-31"]
    share = reg.isin([Regime.CRISIS, Regime.BEAR]).mean()
    assert share > 0.9
    assert (reg == Regime.CRISIS).any()
    calm = fitted.classify(spx).loc["2006-01-01":"2006-12-31"]
    assert calm.isin([Regime.BULL, Regime.SIDEWAYS]).mean() > 0.6


def test_every_label_is_a_regime(spx, fitted):
    assert set(fitted.classify(spx).unique()) <= set(Regime)


def test_too_few_bars_is_a_clear_error(spx):
    with pytest.raises(ValueError, match="regime fit needs more than"):
        RegimeClassifier().fit(spx.iloc[:30])


def test_per_bar_regime_is_bit_identical_to_statsmodels_and_pandas(spx, fitted):
    """The array path (statsmodels' filter routine, pandas' rolling kernels) equals the public APIs exactly."""
    for start in (0, 900, 1800, 2700, len(spx) - 300):
        bars = spx.iloc[start : start + 300]
        r = 100 * np.diff(np.log(bars["close"].to_numpy()))
        res = MarkovRegression(r, k_regimes=3, trend="c", switching_variance=True).filter(fitted.params_)
        np.testing.assert_array_equal(fitted.indicators(bars)["p_turbulent"].to_numpy()[1:],
                                      np.asarray(res.filtered_marginal_probabilities)[:, fitted.turbulent_state_])
        close = bars["close"].astype(float)
        sma = close.rolling(fitted.trend_window).mean()
        ind = fitted.indicators(bars)
        np.testing.assert_array_equal(ind["slope"].to_numpy(), (sma / sma.shift(fitted.slope_lookback) - 1.0).to_numpy())
        np.testing.assert_array_equal(ind["above_ma"].to_numpy(), (close > sma).to_numpy())
        rv = pd.Series(np.concatenate([[np.nan], r])).rolling(fitted.vol_window).std().to_numpy()
        np.testing.assert_array_equal(ind["rv"].to_numpy(), rv)
        dd = (close / close.rolling(fitted.drawdown_window, min_periods=1).max() - 1.0).to_numpy()
        np.testing.assert_array_equal(ind["drawdown"].to_numpy(), dd)
        assert fitted.classify_last(bars) == fitted.classify(bars).iloc[-1]
