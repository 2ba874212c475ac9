"""The deflated Sharpe ratio (Bailey & López de Prado, 2014).

D. H. Bailey and M. López de Prado, "The Deflated Sharpe Ratio: Correcting for
Selection Bias, Backtest Overfitting and Non-Normality", *Journal of Portfolio
Management* 40(5), 2014, pp. 94-107.

All Sharpe ratios here are **per observation** (not annualised): the mean of the
per-bar returns over their sample standard deviation. Kurtosis is the plain
(Pearson) kurtosis, 3 for a normal distribution, as in the paper.

* :func:`expected_max_sharpe` is the Sharpe ratio the best of ``n_trials``
  skill-less strategies reaches by luck alone, given the variance of the trials'
  Sharpe ratios: ``sqrt(V) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e)))``
  with ``g`` the Euler-Mascheroni constant.
* :func:`probabilistic_sharpe` is the probability that the true Sharpe ratio
  exceeds a benchmark ``sr0`` given ``T`` observations, their skew and kurtosis:
  ``Z((SR - SR0) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2))``.
* :func:`deflated_sharpe` is the probabilistic Sharpe ratio against the expected
  maximum: the probability that the best trial's edge is more than selection luck.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

EULER_GAMMA = 0.5772156649015329


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """Return the expected maximum Sharpe ratio of ``n_trials`` independent skill-less trials.

    Parameters
    ----------
    n_trials
        How many trials were run (1 gives 0: no selection).
    sharpe_variance
        Variance of the trials' (per-observation) Sharpe ratios.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be at least 1, not {n_trials}")
    if n_trials == 1 or sharpe_variance <= 0:
        return 0.0
    z1 = stats.norm.ppf(1.0 - 1.0 / n_trials)
    z2 = stats.norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return float(math.sqrt(sharpe_variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


def probabilistic_sharpe(sharpe: float, benchmark: float, n_obs: int, skew: float = 0.0, kurtosis: float = 3.0) -> float:
    """Return the probability that the true Sharpe ratio exceeds ``benchmark`` (both per observation)."""
    if n_obs < 2:
        raise ValueError(f"the probabilistic Sharpe ratio needs at least 2 observations, not {n_obs}")
    var = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if not var > 0:
        return float("nan")
    return float(stats.norm.cdf((sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(var)))


@dataclass(frozen=True)
class DeflatedSharpe:
    """The deflated Sharpe ratio of a selected trial and what went into it."""

    dsr: float
    sharpe: float
    expected_max_sharpe: float
    n_trials: int
    sharpe_variance: float
    n_obs: int
    skew: float
    kurtosis: float

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict."""
        return asdict(self)


def deflated_sharpe(sharpe: float, n_obs: int, n_trials: int, sharpe_variance: float, skew: float = 0.0, kurtosis: float = 3.0) -> DeflatedSharpe:
    """Return the deflated Sharpe ratio of a trial selected as the best of ``n_trials``.

    Parameters
    ----------
    sharpe
        The selected trial's per-observation Sharpe ratio.
    n_obs
        Number of returns it was measured on.
    n_trials
        Number of trials the selection was made from.
    sharpe_variance
        Variance of the per-observation Sharpe ratios across the trials.
    skew, kurtosis
        Skewness and (Pearson, non-excess) kurtosis of the selected trial's returns.
    """
    sr0 = expected_max_sharpe(n_trials, sharpe_variance)
    dsr = probabilistic_sharpe(sharpe, sr0, n_obs, skew, kurtosis)
    return DeflatedSharpe(dsr, float(sharpe), sr0, int(n_trials), float(sharpe_variance), int(n_obs), float(skew), float(kurtosis))


def sharpe_moments(returns: np.ndarray) -> dict[str, float]:
    """Return the per-observation Sharpe ratio, skew, Pearson kurtosis and count of ``returns``."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    n = int(r.size)
    if n < 3 or not r.std(ddof=1) > 0:
        return {"sr": float("nan"), "skew": float("nan"), "kurtosis": float("nan"), "n_obs": n}
    # The biased central moments, as scipy.stats.skew and kurtosis(fisher=False) define them, in plain numpy (scipy's
    # wrappers cost ~1 ms a call, more than a sweep trial's whole backtest).
    d = r - r.mean()
    d2 = d * d
    m2 = float(d2.mean())
    return {"sr": float(r.mean() / r.std(ddof=1)), "skew": float((d2 * d).mean() / m2**1.5), "kurtosis": float((d2 * d2).mean() / m2**2),
            "n_obs": n}
