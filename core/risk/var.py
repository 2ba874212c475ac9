"""Value at Risk and Expected Shortfall (CVaR), reported as **positive loss fractions**.

``var = 0.031`` at ``level = 0.99`` means: on 99 % of periods the loss is not
worse than 3.1 % of the position (or portfolio) value. ``alpha = 1 - level`` is
the tail probability. Inputs are simple per-period returns; NaNs are dropped.

Methods
-------
- historical: the empirical ``alpha`` quantile with linear interpolation
  (``np.quantile``, the same as empyrical's ``np.percentile``); CVaR is the mean
  of the returns at or below that quantile. For ``horizon > 1`` it uses
  overlapping compounded ``horizon``-period returns.
- parametric normal: ``VaR = -(mu + z_alpha sigma)``, ``CVaR = -(mu - sigma phi(z_alpha) / alpha)``
  with sample ``sigma`` (ddof=1); ``horizon`` scales ``mu`` by h and ``sigma`` by sqrt(h).
- Cornish-Fisher: the normal quantile corrected for sample skewness S and excess
  kurtosis K (population moments, scipy's defaults):
  ``z_cf = z + (z²-1)S/6 + (z³-3z)K/24 - (2z³-5z)S²/36``; CVaR integrates the
  Cornish-Fisher quantile over the tail numerically. For h periods S/sqrt(h), K/h (i.i.d. sums).
  Beware: with large excess kurtosis (single-day crashes in the sample, K >> 6) the
  expansion leaves its domain of validity and overstates the 99 % tail while
  understating the 95 % one; ``bench/RESULTS.md`` shows it on GOOG and AAPL.
- Monte Carlo: correlated multivariate normal draws (Cholesky of the sample
  covariance, seeded) of all assets, combined with the portfolio weights.
- GARCH(1,1) with standardised Student-t innovations (``arch``): the forward
  looking estimate; see :func:`garch_t_forecast`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

import numpy as np
import pandas as pd

LEVELS = (0.95, 0.99)
N_SIMS = 100_000  # Monte Carlo draws (monte_carlo's default; the tables use the same)


@dataclass(frozen=True, slots=True)
class VarEstimate:
    """One VaR/CVaR estimate: positive loss fractions for ``level`` over ``horizon`` periods."""

    method: str
    level: float
    horizon: int
    var: float
    cvar: float


def _clean(returns: Iterable[float]) -> np.ndarray:
    arr = np.asarray(returns, dtype=float).ravel()
    return arr[~np.isnan(arr)]


def _check(level: float, horizon: int) -> float:
    if not 0.5 < level < 1.0:
        raise ValueError(f"VaR level must lie between 0.5 and 1 (e.g. 0.95 or 0.99), got {level}")
    if horizon < 1 or int(horizon) != horizon:
        raise ValueError(f"VaR horizon must be a whole number of periods >= 1, got {horizon}")
    return 1.0 - level


def _need(r: np.ndarray, n: int, what: str) -> None:
    if r.size < n:
        raise ValueError(f"{what} needs at least {n} returns, got {r.size}: load a longer history")


# -- historical ---------------------------------------------------------------------------------
def horizon_returns(returns: Iterable[float], horizon: int) -> np.ndarray:
    """Return overlapping compounded ``horizon``-period returns (the input itself for 1)."""
    r = _clean(returns)
    if horizon == 1:
        return r
    growth = np.log1p(r)
    csum = np.concatenate([[0.0], np.cumsum(growth)])
    return np.expm1(csum[horizon:] - csum[:-horizon])


def historical(returns: Iterable[float], level: float = 0.95, horizon: int = 1) -> VarEstimate:
    """Return historical-simulation VaR and CVaR."""
    alpha = _check(level, horizon)
    r = horizon_returns(returns, horizon)
    _need(r, 2, "historical VaR")
    q = float(np.quantile(r, alpha))
    tail = r[r <= q]
    return VarEstimate("historical", level, horizon, -q, -float(tail.mean()))


# -- parametric normal ----------------------------------------------------------------------------
def normal_var_from_moments(mu: float, sigma: float, level: float = 0.95, horizon: int = 1) -> VarEstimate:
    """Return normal VaR/CVaR for per-period mean ``mu`` and standard deviation ``sigma``."""
    alpha = _check(level, horizon)
    m, s = mu * horizon, sigma * np.sqrt(horizon)
    # The standard library's normal (same values as scipy.stats.norm to ~1e-16): importing scipy.stats costs a page ~1-3 s.
    z = NormalDist().inv_cdf(alpha)
    return VarEstimate("parametric", level, horizon, float(-(m + z * s)), float(-(m - s * NormalDist().pdf(z) / alpha)))


def parametric(returns: Iterable[float], level: float = 0.95, horizon: int = 1) -> VarEstimate:
    """Return parametric (normal) VaR and CVaR from the sample mean and ``std(ddof=1)``."""
    r = _clean(returns)
    _need(r, 2, "parametric VaR")
    return normal_var_from_moments(float(r.mean()), float(r.std(ddof=1)), level, horizon)


# -- Cornish-Fisher -------------------------------------------------------------------------------
def cornish_fisher_z(z: np.ndarray | float, skew: float, excess_kurtosis: float) -> np.ndarray | float:
    """Return the Cornish-Fisher adjusted standard quantile for normal quantile ``z``."""
    return _cf_cubic(z, z**2, z**3, skew, excess_kurtosis)


def _cf_cubic(z1: np.ndarray | float, z2: np.ndarray | float, z3: np.ndarray | float, skew: float, kurt: float) -> np.ndarray | float:
    """The Cornish-Fisher cubic from z, z² and z³; linear in them, so given their means it is the mean of the cubic."""
    return z1 + (z2 - 1) * skew / 6 + (z3 - 3 * z1) * kurt / 24 - (2 * z3 - 5 * z1) * skew**2 / 36


def cornish_fisher(returns: Iterable[float], level: float = 0.95, horizon: int = 1, grid: int = 20_000) -> VarEstimate:
    """Return Cornish-Fisher (modified) VaR and a CVaR from the tail average of its quantiles.

    The CVaR is ``-(mu + sigma * mean(z_cf(u)))`` over ``u`` uniform on ``(0, alpha)``,
    integrated with the midpoint rule on ``grid`` points.
    """
    from scipy.special import ndtri  # the normal quantile (scipy.special, not the much heavier scipy.stats)

    alpha = _check(level, horizon)
    r = _clean(returns)
    _need(r, 4, "Cornish-Fisher VaR")
    mu, sigma = float(r.mean()) * horizon, float(r.std(ddof=1)) * np.sqrt(horizon)
    d = r - r.mean()
    m2, m3, m4 = float(np.mean(d**2)), float(np.mean(d**3)), float(np.mean(d**4))
    # Sample skewness and excess kurtosis with the biased moments (scipy.stats.skew / kurtosis defaults).
    skew = m3 / m2**1.5 / np.sqrt(horizon)
    kurt = (m4 / m2**2 - 3.0) / horizon
    z_cf = float(cornish_fisher_z(ndtri(alpha), skew, kurt))
    # z_cf is a cubic in z, so its mean over the tail grid is the same cubic in the grid's moments of z
    # (cached per alpha: the grid's 20,000 normal quantiles were most of a Risk page rerun).
    tail_mean = float(_cf_cubic(*_tail_moments(alpha, grid), skew, kurt))
    return VarEstimate("cornish_fisher", level, horizon, -(mu + z_cf * sigma), float(-(mu + sigma * tail_mean)))


@lru_cache(maxsize=64)
def _tail_moments(alpha: float, grid: int) -> tuple[float, float, float]:
    """Return the means of z, z² and z³ over the normal quantiles of ``grid`` midpoints of ``(0, alpha)``."""
    from scipy.special import ndtri

    z = ndtri((np.arange(grid) + 0.5) / grid * alpha)
    return float(np.mean(z)), float(np.mean(z**2)), float(np.mean(z**3))


# -- Monte Carlo -------------------------------------------------------------------------------------
def _cholesky(cov: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        # A singular sample covariance (e.g. two identical series): use the PSD square root instead.
        vals, vecs = np.linalg.eigh(cov)
        return vecs @ np.diag(np.sqrt(np.clip(vals, 0.0, None)))


def monte_carlo(
    returns: pd.DataFrame | pd.Series | Iterable[float],
    weights: Mapping[str, float] | Iterable[float] | None = None,
    level: float = 0.95,
    horizon: int = 1,
    n_sims: int = N_SIMS,
    seed: int = 0,
) -> VarEstimate:
    """Return Monte Carlo VaR/CVaR of a portfolio from correlated normal draws.

    Parameters
    ----------
    returns
        Per-period returns, one column per asset (a Series or array for one asset).
        Rows with any NaN are dropped so the covariance uses common dates.
    weights
        Position value per asset as a fraction of equity (signed; shorts negative),
        by column name or in column order. Default: one unit in each asset equally
        split (``1/k``).
    level, horizon
        Confidence level and horizon in periods (draws use ``h * mu`` and ``h * cov``).
    n_sims, seed
        Number of draws and the seed of ``numpy.random.default_rng`` (deterministic).
    """
    _check(level, horizon)  # before the draws
    return _mc_estimate(_mc_pnl(returns, weights, horizon, n_sims, seed), level, horizon)


def _mc_estimate(pnl: np.ndarray, level: float, horizon: int) -> VarEstimate:
    q = float(np.quantile(pnl, _check(level, horizon)))
    return VarEstimate("monte_carlo", level, horizon, -q, -float(pnl[pnl <= q].mean()))


def _mc_pnl(returns: pd.DataFrame | pd.Series | Iterable[float], weights: Mapping[str, float] | Iterable[float] | None, horizon: int,
            n_sims: int, seed: int) -> np.ndarray:
    """Return the ``n_sims`` simulated portfolio returns of :func:`monte_carlo` (the same draws for every level)."""
    frame = pd.DataFrame(returns).dropna()
    if frame.shape[0] < frame.shape[1] + 2:
        raise ValueError(f"Monte Carlo VaR needs more return rows ({frame.shape[0]}) than assets ({frame.shape[1]}) + 1: load a longer history")
    if weights is None:
        w = np.full(frame.shape[1], 1.0 / frame.shape[1])
    elif isinstance(weights, Mapping):
        missing = [c for c in weights if c not in frame.columns]
        if missing:
            raise ValueError(f"no returns for {missing}: add their history to the returns frame")
        w = np.array([float(weights.get(c, 0.0)) for c in frame.columns])
    else:
        w = np.asarray(list(weights), dtype=float)
    mu = frame.mean().to_numpy() * horizon
    cov = np.atleast_2d(frame.cov(ddof=1).to_numpy()) * horizon
    rng = np.random.default_rng(seed)
    draws = mu + rng.standard_normal((n_sims, frame.shape[1])) @ _cholesky(cov).T
    return draws @ w


# -- portfolio helpers ---------------------------------------------------------------------------------
def portfolio_returns(returns: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Return the per-period portfolio return ``sum_i w_i r_i`` on dates where all held assets have data."""
    cols = [c for c, w in weights.items() if w != 0]
    missing = [c for c in cols if c not in returns.columns]
    if missing:
        raise ValueError(f"no returns for {missing}: add their history to the returns frame")
    sub = returns[cols].dropna()
    return sub @ pd.Series({c: float(weights[c]) for c in cols})


def parametric_portfolio(returns: pd.DataFrame, weights: Mapping[str, float], level: float = 0.99, horizon: int = 1) -> VarEstimate:
    """Return normal VaR/CVaR of a portfolio: ``-(w·mu) - z sqrt(w' Sigma w)`` on common dates."""
    cols = [c for c, w in weights.items() if w != 0]
    if not cols:
        return VarEstimate("parametric", level, horizon, 0.0, 0.0)
    sub = returns[cols].dropna()
    if len(sub) < 2:
        raise ValueError("parametric portfolio VaR needs at least 2 common return rows: load a longer history")
    w = np.array([float(weights[c]) for c in cols])
    mu = float(sub.mean().to_numpy() @ w)
    sigma = float(np.sqrt(max(w @ np.atleast_2d(sub.cov(ddof=1).to_numpy()) @ w, 0.0)))
    return normal_var_from_moments(mu, sigma, level, horizon)


# -- GARCH(1,1)-t ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GarchForecast:
    """A GARCH(1,1)-t forecast over ``horizon`` periods, in return units (not percent).

    ``sigma`` is the forecast standard deviation of the ``horizon``-period return,
    ``long_run_sigma`` the unconditional per-period one scaled to the same horizon,
    and ``exposure_scale = min(1, long_run_sigma / sigma)``: the multiplier a
    position limit should apply when forecast risk rises above its long-run level.
    """

    horizon: int
    mu: float
    sigma: float
    nu: float
    long_run_sigma: float
    params: dict[str, float]
    estimates: tuple[VarEstimate, ...]

    @property
    def exposure_scale(self) -> float:
        """Return the exposure multiplier in (0, 1] implied by the forecast risk."""
        if not np.isfinite(self.long_run_sigma) or self.sigma <= 0:
            return 1.0
        return float(min(1.0, self.long_run_sigma / self.sigma))

    def at(self, level: float) -> VarEstimate:
        """Return the estimate at ``level``."""
        for est in self.estimates:
            if abs(est.level - level) < 1e-12:
                return est
        raise KeyError(f"no GARCH estimate at level {level}; forecast with levels=({level},)")


def std_t_tail(alpha: float, nu: float) -> tuple[float, float]:
    """Return the ``alpha`` quantile and lower-tail mean of a unit-variance Student-t with ``nu`` dof.

    The tail mean is ``-(nu + t²)/(nu - 1) * f_t(t) / alpha`` scaled by ``sqrt((nu-2)/nu)``, the
    closed form of the expected shortfall of a Student-t.
    """
    from scipy import stats

    scale = np.sqrt((nu - 2.0) / nu)
    t = stats.t.ppf(alpha, nu)
    es = -(nu + t * t) / (nu - 1.0) * stats.t.pdf(t, nu) / alpha
    return float(t * scale), float(es * scale)


def garch_t_forecast(returns: Iterable[float] | pd.Series, horizon: int = 1, levels: Iterable[float] = LEVELS) -> GarchForecast:
    """Fit a constant-mean GARCH(1,1) with standardised Student-t errors and forecast VaR/CVaR.

    Returns are scaled by 100 for the optimiser (``arch``'s advice) and scaled
    back. The ``horizon``-period mean and variance are the sums of the per-period
    forecasts; the t quantile is applied to the aggregate (an approximation for
    ``horizon > 1``, exact for 1).
    """
    from arch import arch_model

    r = _clean(returns)
    _need(r, 100, "GARCH VaR")
    with warnings.catch_warnings():  # arch's data-scale and numpy's overflow warnings are pages of text on a user's terminal
        warnings.simplefilter("ignore")
        res = arch_model(pd.Series(r * 100.0), mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(disp="off", show_warning=False)
    fc = res.forecast(horizon=horizon, reindex=False)
    mu = float(fc.mean.iloc[-1].sum()) / 100.0
    sigma = float(np.sqrt(fc.variance.iloc[-1].sum())) / 100.0
    p = {k: float(v) for k, v in res.params.items()}
    nu = p["nu"]
    persistence = p["alpha[1]"] + p["beta[1]"]
    long_run = float(np.sqrt(p["omega"] / (1.0 - persistence) * horizon)) / 100.0 if persistence < 1 else float("inf")
    out = []
    for level in levels:
        alpha = _check(level, horizon)
        q, es = std_t_tail(alpha, nu)
        out.append(VarEstimate("garch_t", level, horizon, -(mu + sigma * q), -(mu + sigma * es)))
    return GarchForecast(horizon, mu, sigma, nu, long_run, p, tuple(out))


# -- everything at once ----------------------------------------------------------------------------------
def var_table(returns: Iterable[float] | pd.Series, levels: Iterable[float] = LEVELS, horizon: int = 1, seed: int = 0, garch: bool = True) -> dict[str, float]:
    """Return VaR/CVaR by every method as ``{"var_95_hist": ..., "cvar_99_garch": ...}``.

    Method suffixes: ``hist``, ``param``, ``cf``, ``mc``, ``garch``. Values are positive loss fractions.
    """
    r = _clean(returns)
    out: dict[str, float] = {}
    fc = garch_t_forecast(r, horizon, levels) if garch else None
    pnl = None
    for level in levels:
        tag = f"{round(level * 100):d}"
        ests = {"hist": historical(r, level, horizon), "param": parametric(r, level, horizon), "cf": cornish_fisher(r, level, horizon)}
        # one set of draws for every level (the draws monte_carlo() makes per level), after the checks above as before
        pnl = _mc_pnl(pd.Series(r), None, horizon, N_SIMS, seed) if pnl is None else pnl
        ests["mc"] = _mc_estimate(pnl, level, horizon)
        _put(out, tag, ests, fc, level)
    return _put_garch(out, fc)


def _put(out: dict[str, float], tag: str, ests: dict, fc: GarchForecast | None, level: float) -> None:
    """Add one level's estimates (and the GARCH one, when there is a forecast) to ``out``."""
    if fc is not None:
        ests["garch"] = fc.at(level)
    for key, est in ests.items():
        out[f"var_{tag}_{key}"] = float(est.var)
        out[f"cvar_{tag}_{key}"] = float(est.cvar)


def _put_garch(out: dict[str, float], fc: GarchForecast | None) -> dict[str, float]:
    if fc is not None:
        out["garch_sigma"] = fc.sigma
        out["garch_exposure_scale"] = fc.exposure_scale
    return out


def portfolio_var_table(
    returns: pd.DataFrame,
    weights: Mapping[str, float],
    levels: Iterable[float] = LEVELS,
    horizon: int = 1,
    seed: int = 0,
    garch: bool = True,
) -> dict[str, float]:
    """Return VaR/CVaR of a portfolio by every method, keyed like :func:`var_table`.

    ``weights`` are signed position values as fractions of equity (a short is
    negative; one asset gives a position's VaR). Historical, Cornish-Fisher and
    GARCH use the constant-weight portfolio return series on common dates;
    parametric and Monte Carlo use the assets' mean vector and covariance.
    """
    levels = tuple(levels)
    held = {s: float(w) for s, w in weights.items() if w != 0}
    if not held:
        raise ValueError("the portfolio is empty: give at least one non-zero weight")
    port = portfolio_returns(returns, held)
    frame = returns[list(held)].dropna()
    fc = garch_t_forecast(port, horizon, levels) if garch else None
    out: dict[str, float] = {}
    pnl = None
    for level in levels:
        tag = f"{round(level * 100):d}"
        ests = {"hist": historical(port, level, horizon), "param": parametric_portfolio(frame, held, level, horizon),
                "cf": cornish_fisher(port, level, horizon)}
        pnl = _mc_pnl(frame, held, horizon, N_SIMS, seed) if pnl is None else pnl  # as in var_table: one set of draws
        ests["mc"] = _mc_estimate(pnl, level, horizon)
        _put(out, tag, ests, fc, level)
    return _put_garch(out, fc)
