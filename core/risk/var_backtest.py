"""VaR backtesting: rolling one-step-ahead forecasts and Kupiec's proportion-of-failures test.

An *exceedance* is a period whose return is below ``-VaR`` forecast from the
previous ``window`` returns only (no look-ahead). Kupiec (1995) compares the
exceedance count x in n forecasts with the expected ``n * (1 - level)``:

``LR = -2 ln[(1-p)^(n-x) p^x] + 2 ln[(1-x/n)^(n-x) (x/n)^x]`` with ``p = 1 - level``,

asymptotically chi-squared with one degree of freedom (``0 ln 0 = 0``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from core.risk import var as var_mod


@dataclass(frozen=True, slots=True)
class KupiecResult:
    """Kupiec POF test of ``exceedances`` in ``n`` forecasts at ``level``."""

    n: int
    exceedances: int
    level: float
    lr: float
    p_value: float

    @property
    def expected(self) -> float:
        """Return the expected number of exceedances ``n (1 - level)``."""
        return self.n * (1.0 - self.level)

    @property
    def rate(self) -> float:
        """Return the observed exceedance rate ``x / n``."""
        return self.exceedances / self.n if self.n else float("nan")

    def rejected(self, significance: float = 0.05) -> bool:
        """Return True when correct coverage is rejected at ``significance``."""
        return self.p_value < significance


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * np.log(y)


def kupiec_pof(exceedances: int, n: int, level: float) -> KupiecResult:
    """Return Kupiec's likelihood-ratio statistic and its chi-squared(1) p-value."""
    if n <= 0 or not 0 <= exceedances <= n:
        raise ValueError(f"need 0 <= exceedances ({exceedances}) <= n ({n}) and n > 0")
    p = 1.0 - level
    x = exceedances
    phat = x / n
    log_null = _xlogy(n - x, 1.0 - p) + _xlogy(x, p)
    log_alt = _xlogy(n - x, 1.0 - phat) + _xlogy(x, phat)
    lr = max(-2.0 * (log_null - log_alt), 0.0)
    return KupiecResult(n, x, level, float(lr), float(stats.chi2.sf(lr, 1)))


METHODS = ("historical", "parametric", "cornish_fisher", "monte_carlo", "garch_t")


def rolling_var(returns: Iterable[float] | pd.Series, method: str, level: float, window: int = 500, refit_every: int = 20, n_sims: int = 20_000) -> np.ndarray:
    """Return one-step-ahead VaR forecasts for periods ``window .. n-1`` (each from the previous ``window`` returns).

    ``garch_t`` is refitted every ``refit_every`` periods on the trailing window; in
    between, its fixed parameters filter the new returns (as a live system would).
    """
    r = np.asarray(pd.Series(returns).dropna(), dtype=float)
    n = r.size
    if n <= window + 1:
        raise ValueError(f"backtest needs more than window + 1 = {window + 1} returns, got {n}")
    out = np.empty(n - window)
    if method == "garch_t":
        from arch import arch_model

        model = arch_model(pd.Series(r * 100.0), mean="Constant", vol="GARCH", p=1, q=1, dist="t")
        for start in range(window, n, refit_every):
            res = model.fit(first_obs=start - window, last_obs=start, disp="off", show_warning=False)
            stop = min(start + refit_every, n)
            fc = res.forecast(start=start - 1, horizon=1, reindex=False)
            mu = fc.mean.iloc[: stop - start, 0].to_numpy() / 100.0
            sig = np.sqrt(fc.variance.iloc[: stop - start, 0].to_numpy()) / 100.0
            q, _ = var_mod.std_t_tail(1.0 - level, float(res.params["nu"]))
            out[start - window : stop - window] = -(mu + sig * q)
        return out
    funcs = {
        "historical": lambda x, _: var_mod.historical(x, level).var,
        "parametric": lambda x, _: var_mod.parametric(x, level).var,
        "cornish_fisher": lambda x, _: var_mod.cornish_fisher(x, level, grid=200).var,
        # A fresh seed per day keeps the draws independent across days yet reproducible.
        "monte_carlo": lambda x, seed: var_mod.monte_carlo(x, None, level, n_sims=n_sims, seed=seed).var,
    }
    if method not in funcs:
        raise ValueError(f"unknown VaR method {method!r}: choose one of {', '.join(METHODS)}")
    for i in range(window, n):
        out[i - window] = funcs[method](r[i - window : i], i)
    return out


def backtest(returns: Iterable[float] | pd.Series, method: str, level: float, window: int = 500, refit_every: int = 20) -> KupiecResult:
    """Return the Kupiec test of ``method``'s rolling one-step VaR on ``returns``."""
    r = np.asarray(pd.Series(returns).dropna(), dtype=float)
    forecasts = rolling_var(r, method, level, window, refit_every)
    realised = r[window:]
    return kupiec_pof(int(np.sum(realised < -forecasts)), realised.size, level)


@dataclass(frozen=True, slots=True)
class ChristoffersenResult:
    """Christoffersen (1998) tests of an exceedance sequence at ``level``.

    ``lr_ind`` tests independence (a first-order Markov chain of exceedances against
    independent ones), chi-squared(1); ``lr_cc`` = Kupiec's ``lr_uc`` + ``lr_ind`` tests
    conditional coverage (right rate and no clustering), chi-squared(2). ``transitions``
    holds ``(n00, n01, n10, n11)``: counts of day pairs (no exceedance / exceedance).
    """

    n: int
    exceedances: int
    level: float
    transitions: tuple[int, int, int, int]
    lr_uc: float
    lr_ind: float
    lr_cc: float
    p_uc: float
    p_ind: float
    p_cc: float

    def rejected(self, significance: float = 0.05) -> bool:
        """Return True when conditional coverage is rejected at ``significance``."""
        return self.p_cc < significance


def christoffersen(exceedances: Iterable[bool] | np.ndarray, level: float) -> ChristoffersenResult:
    """Return Christoffersen's independence and conditional-coverage tests of a 0/1 exceedance sequence.

    ``LR_ind = -2 ln[(1-π)^(n00+n10) π^(n01+n11)] + 2 ln[(1-π01)^n00 π01^n01 (1-π11)^n10 π11^n11]``
    with ``π01 = n01/(n00+n01)``, ``π11 = n11/(n10+n11)`` and ``π = (n01+n11)/(n-1)``; ``0 ln 0 = 0``.
    """
    hits = np.asarray(list(exceedances) if not isinstance(exceedances, np.ndarray) else exceedances, dtype=bool)
    if hits.size < 2:
        raise ValueError(f"the Christoffersen test needs at least 2 forecasts, got {hits.size}")
    prev, nxt = hits[:-1], hits[1:]
    n00 = int(np.sum(~prev & ~nxt))
    n01 = int(np.sum(~prev & nxt))
    n10 = int(np.sum(prev & ~nxt))
    n11 = int(np.sum(prev & nxt))
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    log_null = _xlogy(n00 + n10, 1.0 - pi) + _xlogy(n01 + n11, pi)
    log_alt = _xlogy(n00, 1.0 - pi01) + _xlogy(n01, pi01) + _xlogy(n10, 1.0 - pi11) + _xlogy(n11, pi11)
    lr_ind = max(-2.0 * (log_null - log_alt), 0.0)
    uc = kupiec_pof(int(hits.sum()), int(hits.size), level)
    lr_cc = uc.lr + lr_ind
    return ChristoffersenResult(
        int(hits.size), int(hits.sum()), level, (n00, n01, n10, n11), uc.lr, float(lr_ind), float(lr_cc),
        uc.p_value, float(stats.chi2.sf(lr_ind, 1)), float(stats.chi2.sf(lr_cc, 2)),
    )  # fmt: skip
