"""Next-bar VaR forecasts of a book, and the exposure scale that keeps them within a VaR budget.

Per symbol, a model forecasts the next bar's return distribution from that symbol's
trailing returns only (causal by construction: the caller passes the returns up to now):

* ``garch_t`` (default): a constant-mean GARCH(1,1) with standardised Student-t errors
  (``arch``), refitted on every call's window. The book combines the per-symbol
  forecast volatilities with the window's sample correlation (constant conditional
  correlation) and the heaviest-tailed symbol's t quantile; for one symbol this is
  exactly the univariate GARCH-t VaR.
* ``quantile``: a linear quantile regression (scikit-learn, pinball loss) of the next
  return on the latest absolute return and the 5- and 20-bar realised volatilities.

:meth:`BookForecast.var` then gives the VaR of any weights as a fraction of equity:
``-(w·mu) - q * sqrt(w' S w)``, a convex function of the weights (so the risk engine can
search the largest allowed quantity the same way as for its trailing-window VaR).
Fits are cached by the content of the return window, so a backtest, the paper loop and
a replay after a restart all compute the same numbers once.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from threading import Lock

import numpy as np
import pandas as pd

from core.risk.var import std_t_tail

MODELS = ("garch_t", "quantile")
MIN_OBS = 100
_CACHE: OrderedDict[tuple, tuple[float, float, float]] = OrderedDict()
_CACHE_SIZE = 4096
_LOCK = Lock()


@dataclass(frozen=True, slots=True, eq=False)
class BookForecast:
    """Forecast next-bar return moments of several symbols.

    ``mu`` and ``cov`` are per-symbol means and the covariance (return units), ``q`` the
    standardised lower quantile at ``level`` (negative) applied to the book's volatility.
    """

    symbols: tuple[str, ...]
    mu: np.ndarray
    cov: np.ndarray
    q: float
    level: float
    model: str

    def weights(self, values: Mapping[str, float], equity: float) -> np.ndarray:
        """Return the weight vector (value / equity) aligned with :attr:`symbols`; unknown symbols raise KeyError."""
        missing = [s for s, v in values.items() if v and s not in self.symbols]
        if missing:
            raise KeyError(f"no VaR forecast for {', '.join(missing)}: they need {MIN_OBS}+ bars of returns")
        return np.array([float(values.get(s, 0.0)) / equity for s in self.symbols])

    def var(self, w: np.ndarray) -> float:
        """Return the next-bar VaR of weights ``w`` as a positive loss fraction of equity."""
        w = np.asarray(w, dtype=float)
        return float(-(w @ self.mu) - self.q * math.sqrt(max(float(w @ self.cov @ w), 0.0)))

    def book_var(self, values: Mapping[str, float], equity: float) -> float:
        """Return the VaR of a book of signed ``values`` (money) as a fraction of ``equity``."""
        return self.var(self.weights(values, equity)) if equity > 0 else 0.0


def _key(model: str, level: float, r: np.ndarray) -> tuple:
    return (model, level, r.size, hashlib.blake2b(r.tobytes(), digest_size=16).hexdigest())


def _garch(r: np.ndarray, level: float) -> tuple[float, float, float]:
    """Return (mean, sigma, standardised quantile) of the next return from a GARCH(1,1)-t fit."""
    from arch import arch_model

    with warnings.catch_warnings():
        # The optimiser warns on hard windows (it still returns its best point); the forecast is checked below.
        warnings.simplefilter("ignore")
        res = arch_model(r * 100.0, mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(disp="off", show_warning=False)
        fc = res.forecast(horizon=1, reindex=False)
    mu = float(fc.mean.iloc[-1, 0]) / 100.0
    sigma = float(np.sqrt(fc.variance.iloc[-1, 0])) / 100.0
    nu = float(res.params["nu"])
    if not (np.isfinite(sigma) and sigma > 0 and np.isfinite(nu) and nu > 2):
        sigma, nu, mu = float(np.std(r, ddof=1)), 30.0, float(np.mean(r))  # a failed fit falls back to the window's moments
    q, _ = std_t_tail(1.0 - level, min(nu, 200.0))
    return mu, sigma, q


def _quantile(r: np.ndarray, level: float) -> tuple[float, float, float]:
    """Return (0, sigma-equivalent, normal quantile) from a linear quantile regression of the next return."""
    from sklearn.linear_model import QuantileRegressor

    s = pd.Series(r)
    feats = pd.DataFrame({"abs": s.abs(), "vol5": s.rolling(5).std(), "vol20": s.rolling(20).std()})
    x, y = feats.iloc[:-1], s.shift(-1).iloc[:-1]
    ok = x.notna().all(axis=1)
    model = QuantileRegressor(quantile=1.0 - level, alpha=0.0, solver="highs").fit(x[ok].to_numpy(), y[ok].to_numpy())
    pred = float(model.predict(feats.iloc[[-1]].to_numpy())[0])
    z = float(NormalDist().inv_cdf(1.0 - level))
    var = max(-pred, 1e-6)  # a non-positive VaR forecast (quantile above zero) is floored: risk is never free
    return 0.0, var / -z, z


def symbol_forecast(returns: np.ndarray | pd.Series, model: str = "garch_t", level: float = 0.99) -> tuple[float, float, float]:
    """Return ``(mu, sigma, q)`` of the next return of one symbol from its trailing ``returns``.

    The symbol's next-bar VaR is ``-(mu + q * sigma)``. Results are cached by the window's content.
    """
    if model not in MODELS:
        raise ValueError(f"unknown VaR forecast model {model!r}: choose one of {', '.join(MODELS)}")
    r = np.asarray(pd.Series(returns).dropna(), dtype=np.float64)
    if r.size < MIN_OBS:
        raise ValueError(f"a VaR forecast needs at least {MIN_OBS} returns, got {r.size}")
    key = _key(model, level, r)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    out = _garch(r, level) if model == "garch_t" else _quantile(r, level)
    with _LOCK:
        _CACHE[key] = out
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return out


class VarForecaster:
    """Forecast the next bar's VaR of a book from trailing returns.

    Parameters
    ----------
    model
        ``"garch_t"`` or ``"quantile"`` (see the module docstring).
    level
        VaR confidence level (0.99 = the loss exceeded on 1 bar in 100).
    window
        Trailing returns per symbol each forecast uses (the newest ``window`` rows).
    """

    def __init__(self, model: str = "garch_t", level: float = 0.99, window: int = 250) -> None:
        if model not in MODELS:
            raise ValueError(f"unknown VaR forecast model {model!r}: choose one of {', '.join(MODELS)}")
        if window < MIN_OBS:
            raise ValueError(f"window must be at least {MIN_OBS} returns, not {window}")
        self.model = model
        self.level = level
        self.window = window

    def forecast(self, returns: pd.DataFrame, symbols: list[str] | None = None) -> BookForecast:
        """Return the book forecast for ``symbols`` (default: every column with enough history)."""
        cols = [s for s in (symbols or list(returns.columns)) if s in returns.columns]
        sub = returns[cols].tail(self.window)
        usable = [s for s in cols if sub[s].notna().sum() >= MIN_OBS]
        fits = [symbol_forecast(sub[s].to_numpy(), self.model, self.level) for s in usable]
        mu = np.array([f[0] for f in fits])
        sig = np.array([f[1] for f in fits])
        q = min((f[2] for f in fits), default=float(NormalDist().inv_cdf(1 - self.level)))  # the heaviest tail speaks for the book
        corr = np.array(sub[usable].corr(min_periods=20).fillna(0.0).to_numpy(), dtype=float, ndmin=2) if usable else np.zeros((0, 0))
        if usable:
            np.fill_diagonal(corr, 1.0)
        return BookForecast(tuple(usable), mu, corr * np.outer(sig, sig), float(q), self.level, self.model)

    def unit_var(self, returns: pd.Series) -> float:
        """Return the next-bar VaR of a fully invested long position in one series (fraction of the position)."""
        mu, sigma, q = symbol_forecast(returns.tail(self.window).to_numpy(), self.model, self.level)
        return -(mu + q * sigma)


def exposure_scale(forecast: BookForecast, values: Mapping[str, float], equity: float, budget: float) -> float:
    """Return ``min(1, budget / VaR)``: the factor that brings a target book's forecast VaR within ``budget``."""
    var = forecast.book_var(values, equity)
    return 1.0 if var <= budget or var <= 0 else budget / var


def returns_frame(closes: Mapping[str, pd.Series], window: int) -> pd.DataFrame:
    """Return the last ``window`` simple returns of each close series, aligned on time."""
    return pd.DataFrame({s: c.iloc[-window - 1 :].pct_change().iloc[1:] for s, c in closes.items()})


def scale_targets(targets: Mapping[str, float], prices: Mapping[str, float], equity: float, returns: pd.DataFrame | None,
                  forecaster: VarForecaster, budget: float) -> dict[str, float]:
    """Return target quantities scaled by one factor so the book's forecast VaR stays within ``budget``.

    Without a forecast for every symbol of the book (too little history) the targets are
    returned unchanged: the risk engine's own ``forecast_var`` rule still refuses additions.
    """
    values = {s: q * prices[s] for s, q in targets.items() if q}
    if not values or returns is None or equity <= 0:
        return dict(targets)
    try:
        scale = exposure_scale(forecaster.forecast(returns), values, equity, budget)
    except KeyError:
        return dict(targets)
    return {s: q * scale for s, q in targets.items()}
