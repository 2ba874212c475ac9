"""Deflated Sharpe ratio against the paper's worked example; PBO on synthetic cases with a known answer."""

import itertools
import math

import numpy as np
import pytest

from core.research.dsr import deflated_sharpe, expected_max_sharpe, probabilistic_sharpe, sharpe_moments
from core.research.pbo import probability_of_overfitting


def test_dsr_reproduces_the_worked_example_of_bailey_and_lopez_de_prado_2014():
    """Bailey & López de Prado, "The Deflated Sharpe Ratio", J. Portfolio Management 40(5), 2014, section "A numerical example".

    A strategist tries N = 100 configurations; the variance of their annualised Sharpe ratios
    is 1/2; the best has an annualised Sharpe ratio of 2.5 over 5 years of daily returns
    (T = 1250, 250 days a year), skewness -3 and kurtosis 10. The paper finds the expected
    maximum Sharpe ratio E[max SR] = 0.1132 per day (1.7894 annualised) and DSR = 0.9004.
    """
    n, v_annual, sr_annual, t, days = 100, 0.5, 2.5, 1250, 250
    v, sr = v_annual / days, sr_annual / math.sqrt(days)
    sr0 = expected_max_sharpe(n, v)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    assert sr0 * math.sqrt(days) == pytest.approx(1.7894, abs=5e-4)
    d = deflated_sharpe(sr, t, n, v, skew=-3.0, kurtosis=10.0)
    assert d.dsr == pytest.approx(0.9004, abs=5e-5)
    assert d.expected_max_sharpe == sr0


def test_dsr_terms_match_the_formula_written_out_by_hand():
    # E[max] with the Euler-Mascheroni constant, and the PSR denominator 1 - g3 SR + (g4 - 1)/4 SR^2.
    from scipy.stats import norm

    g = 0.5772156649015329
    n, v = 37, 0.0004
    expect = math.sqrt(v) * ((1 - g) * norm.ppf(1 - 1 / n) + g * norm.ppf(1 - 1 / (n * math.e)))
    assert expected_max_sharpe(n, v) == pytest.approx(expect, rel=1e-12)
    sr, sr0, t, g3, g4 = 0.08, 0.05, 500, 0.4, 5.0
    z = (sr - sr0) * math.sqrt(t - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert probabilistic_sharpe(sr, sr0, t, g3, g4) == pytest.approx(norm.cdf(z), rel=1e-12)
    assert expected_max_sharpe(1, v) == 0.0  # one trial: nothing was selected


def test_sharpe_moments_are_pearson_moments_of_the_returns():
    r = np.random.default_rng(3).standard_t(5, size=4000) * 0.01 + 0.0005
    m = sharpe_moments(r)
    z = (r - r.mean()) / r.std(ddof=0)
    assert m["sr"] == pytest.approx(r.mean() / r.std(ddof=1))
    assert m["skew"] == pytest.approx(np.mean(z**3))
    assert m["kurtosis"] == pytest.approx(np.mean(z**4))
    assert m["n_obs"] == 4000


def _naive_pbo(m: np.ndarray, s: int) -> float:
    """CSCV written out plainly: every half of the blocks, the IS winner's OOS rank, its logit."""
    blocks = np.array_split(np.arange(len(m)), s)
    n = m.shape[1]
    logits = []
    for combo in itertools.combinations(range(s), s // 2):
        is_rows = np.concatenate([blocks[i] for i in combo])
        oos_rows = np.concatenate([blocks[i] for i in range(s) if i not in combo])
        is_sr = m[is_rows].mean(0) / m[is_rows].std(0, ddof=1)
        oos_sr = m[oos_rows].mean(0) / m[oos_rows].std(0, ddof=1)
        best = int(np.argmax(is_sr))
        rank = 1 + sum(oos_sr[j] < oos_sr[best] for j in range(n)) + 0.5 * (sum(oos_sr[j] == oos_sr[best] for j in range(n)) - 1)
        w = rank / (n + 1)
        logits.append(math.log(w / (1 - w)))
    return float(np.mean(np.array(logits) <= 0))


def test_pbo_equals_a_plain_loop_implementation_of_cscv():
    m = np.random.default_rng(11).normal(0, 0.01, size=(240, 9))
    m[:, 2] += 0.0005
    assert probability_of_overfitting(m, n_splits=8).pbo == pytest.approx(_naive_pbo(m, 8), abs=1e-12)


def test_pbo_of_pure_noise_strategies_is_near_one_half():
    values = [probability_of_overfitting(np.random.default_rng(seed).normal(0, 0.01, size=(1000, 40))).pbo for seed in range(8)]
    assert 0.35 <= float(np.mean(values)) <= 0.7


def test_pbo_is_low_when_one_strategy_has_a_real_edge():
    for seed in range(4):
        m = np.random.default_rng(seed).normal(0, 0.01, size=(1000, 40))
        m[:, 17] += 0.003  # a daily Sharpe ratio of 0.3: a real, persistent edge
        res = probability_of_overfitting(m)
        assert res.pbo < 0.05
        assert res.n_combinations == math.comb(16, 8)


def test_pbo_refuses_too_little_data():
    with pytest.raises(ValueError, match="at least 2 trials"):
        probability_of_overfitting(np.zeros((100, 1)))
    with pytest.raises(ValueError, match="at least 4 common periods"):
        probability_of_overfitting(np.zeros((3, 5)))


def test_pbo_with_tied_trials_equals_the_plain_loop():
    m = np.random.default_rng(2).normal(0, 0.01, size=(200, 6))
    m[:, 3] = m[:, 1]  # identical trials (e.g. parameter sets that never trade differently): the first one wins
    m[:, 5] = m[:, 1]
    assert probability_of_overfitting(m, n_splits=8).pbo == pytest.approx(_naive_pbo(m, 8), abs=1e-12)
