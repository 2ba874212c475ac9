"""Market regime per bar: bull, bear, sideways, volatile or crisis.

A Markov-switching model with switching variance (statsmodels
``MarkovRegression``) finds calm and turbulent states in the returns; transparent
rules on trend (moving-average slope), volatility percentile and drawdown depth
turn that into one of five regimes.

Causality: the Markov parameters are estimated once, in :meth:`RegimeClassifier.fit`,
on a fixed training window. :meth:`RegimeClassifier.classify` only runs the
Hamilton *filter* forward with those fixed parameters, so the regime at t uses
bars up to t and never changes when later bars arrive. Smoothed probabilities
(which use the whole sample) are never used.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from pandas._libs.window import aggregations as _agg
from pandas.core.indexers.objects import FixedWindowIndexer
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from core.domain import Regime


def _returns(bars: pd.DataFrame) -> np.ndarray:
    close = bars["close"].to_numpy(dtype=np.float64)
    if len(close) < 2:
        return np.array([])
    # Percent log returns: the optimiser is better conditioned at this scale.
    return 100.0 * np.diff(np.log(close))


def _markov(r: np.ndarray, k: int):
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    # A plain ndarray (no dates) keeps statsmodels from guessing a frequency and warning.
    return MarkovRegression(np.asarray(r), k_regimes=k, trend="c", switching_variance=True)


class RegimeClassifier(BaseEstimator):
    """Five-way regime classifier with Markov-switching volatility states and rules.

    Parameters
    ----------
    k_regimes
        Markov states (2 or 3); the state with the largest variance is "turbulent".
    fit_window
        Fit on at most this many of the most recent bars given to :meth:`fit` (None: all).
    trend_window
        Moving-average length for the trend.
    slope_lookback
        Bars over which the moving-average slope is measured.
    slope_band
        Relative slope below which the trend counts as flat (sideways).
    vol_window
        Realized-volatility window (bars).
    volatile_pct
        Volatility percentile (of the training window) above which a bar is volatile.
    turbulent_prob
        Filtered probability of the turbulent state above which a bar is volatile.
    bear_drawdown, crisis_drawdown
        Drawdown depths from the trailing peak for bear and (with high volatility) crisis.
    drawdown_window
        Bars of the trailing peak (a year of daily bars): an old all-time high should not
        keep a recovered market "in drawdown" for a decade.
    em_iter, maxiter
        Optimiser settings; k=3 needs the extra EM iterations to converge.
    """

    def __init__(
        self,
        k_regimes: int = 3,
        fit_window: int | None = 2500,
        trend_window: int = 50,
        slope_lookback: int = 10,
        slope_band: float = 0.005,
        vol_window: int = 20,
        volatile_pct: float = 0.85,
        turbulent_prob: float = 0.5,
        bear_drawdown: float = 0.15,
        crisis_drawdown: float = 0.25,
        drawdown_window: int = 252,
        em_iter: int = 20,
        maxiter: int = 300,
    ) -> None:
        self.k_regimes = k_regimes
        self.fit_window = fit_window
        self.trend_window = trend_window
        self.slope_lookback = slope_lookback
        self.slope_band = slope_band
        self.vol_window = vol_window
        self.volatile_pct = volatile_pct
        self.turbulent_prob = turbulent_prob
        self.bear_drawdown = bear_drawdown
        self.crisis_drawdown = crisis_drawdown
        self.drawdown_window = drawdown_window
        self.em_iter = em_iter
        self.maxiter = maxiter

    def fit(self, bars: pd.DataFrame, y: object = None) -> RegimeClassifier:
        """Estimate the Markov parameters and the volatility threshold on ``bars`` (the training window)."""
        if self.fit_window:
            bars = bars.iloc[-int(self.fit_window) :]
        r = _returns(bars)
        if len(r) < 10 * self.k_regimes + self.vol_window:
            raise ValueError(f"regime fit needs more than {10 * self.k_regimes + self.vol_window} bars, got {len(bars)}")
        mod = _markov(r, self.k_regimes)
        with warnings.catch_warnings():
            # Optimiser chatter (convergence, overflow in exp) is about the search, not the result.
            warnings.simplefilter("ignore")
            res = mod.fit(em_iter=self.em_iter, maxiter=self.maxiter, disp=False)
        self.params_ = np.asarray(res.params, dtype=np.float64)
        names = list(mod.param_names)
        sigma2 = np.array([self.params_[names.index(f"sigma2[{i}]")] for i in range(self.k_regimes)])
        self.state_variance_ = sigma2
        self.turbulent_state_ = int(np.argmax(sigma2))
        rv = pd.Series(r).rolling(self.vol_window).std().to_numpy()
        self.vol_threshold_ = float(np.nanquantile(rv, self.volatile_pct))
        self.fit_range_ = (pd.Timestamp(bars.index[0]).isoformat(), pd.Timestamp(bars.index[-1]).isoformat())
        return self

    def _indicator_arrays(self, bars: pd.DataFrame) -> dict[str, np.ndarray]:
        check_is_fitted(self, "params_")
        close = bars["close"].to_numpy(dtype=np.float64)
        n = len(close)
        p_turb = np.full(n, np.nan)
        r = _returns(bars)
        if len(r) > 0:
            p_turb[1:] = self._filtered(r)[self.turbulent_state_]
        sma = _rolling(close, self.trend_window, _agg.roll_mean)
        lagged = np.full(n, np.nan)  # sma.shift(slope_lookback)
        if self.slope_lookback < n:
            lagged[self.slope_lookback :] = sma[: n - self.slope_lookback]
        slope = sma / lagged - 1.0
        rv = _zsqrt(_rolling(np.concatenate([[np.nan], r]) if n else r, self.vol_window, partial(_agg.roll_var, ddof=1)))
        dd = close / _rolling(close, self.drawdown_window, _agg.roll_max, min_periods=1) - 1.0
        return {"p_turbulent": p_turb, "slope": slope, "above_ma": close > sma, "rv": rv, "drawdown": dd}

    def indicators(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Return the per-bar inputs of the rules (all causal): turbulence probability, slope, vol, drawdown."""
        return pd.DataFrame(self._indicator_arrays(bars), index=bars.index)

    def _filtered(self, r: np.ndarray) -> np.ndarray:
        """Return the Hamilton filter's ``Pr[S_t | r_0..r_t]`` (regimes x returns) at the fitted parameters.

        The same arithmetic as ``MarkovRegression(r).filter(params_)`` (statsmodels' own filter
        routine on the same conditional log-likelihoods), without building a model per call:
        the transition matrix and the steady-state start depend on the parameters only.
        """
        key = self.params_.tobytes()
        parts = getattr(self, "_filter_parts", None)
        if parts is None or parts[0] != key:
            mod = _markov(np.zeros(10 * self.k_regimes + 2), self.k_regimes)
            transition = mod.regime_transition_matrix(self.params_)
            initial = mod.initial_probabilities(self.params_, transition)
            const = np.array([self.params_[mod.parameters[i, "exog"]][0] for i in range(self.k_regimes)])
            variance = np.reshape(self.params_[mod.parameters["variance"]].squeeze(), (self.k_regimes, 1, 1))
            parts = self._filter_parts = (key, transition, initial, const, variance)
        _, transition, initial, const, variance = parts
        from statsmodels.tsa.regime_switching.markov_switching import cy_hamilton_filter_log

        k = self.k_regimes
        # statsmodels' MarkovRegression._conditional_loglikelihoods, term for term.
        predict = np.repeat(np.broadcast_to(const[:, None, None], (k, 1, len(r))), k, axis=1)
        resid = np.asarray(r, dtype=np.float64) - predict
        loglik = -0.5 * resid**2 / variance - 0.5 * np.log(2 * np.pi * variance)
        return cy_hamilton_filter_log(initial, transition, loglik, 0)[0]

    def _regimes(self, bars: pd.DataFrame) -> np.ndarray:
        ind = self._indicator_arrays(bars)
        with np.errstate(invalid="ignore"):
            high_vol = (ind["rv"] > self.vol_threshold_) | (ind["p_turbulent"] > self.turbulent_prob)
            dd = ind["drawdown"]
            slope = ind["slope"]
            above = ind["above_ma"]
            out = np.full(len(dd), Regime.SIDEWAYS, dtype=object)
            bull = (slope > self.slope_band) & above
            # A deep drawdown is bearish unless the market is clearly recovering (rising average, above it).
            bear = ((slope < -self.slope_band) & ~above) | ((dd <= -self.bear_drawdown) & ~bull)
            out[bull] = Regime.BULL
            out[bear] = Regime.BEAR
            out[high_vol] = Regime.VOLATILE
            out[high_vol & (dd <= -self.crisis_drawdown)] = Regime.CRISIS
        return out

    def classify(self, bars: pd.DataFrame) -> pd.Series:
        """Return the regime of every bar (a Series of :class:`~core.domain.Regime`), causal by construction."""
        return pd.Series(self._regimes(bars), index=bars.index, name="regime")

    def classify_last(self, bars: pd.DataFrame) -> Regime:
        """Return the regime of the newest bar of ``bars`` (``classify(bars).iloc[-1]`` without the Series)."""
        return Regime(self._regimes(bars)[-1])


def _rolling(values: np.ndarray, window: int, func: Any, min_periods: int | None = None) -> np.ndarray:
    """Return ``pd.Series(values).rolling(window, min_periods).<func>()`` by pandas' own kernel, without a Series per call."""
    minp = window if min_periods is None else min_periods
    start, end = FixedWindowIndexer(window_size=window).get_window_bounds(num_values=len(values), min_periods=minp, center=False, closed=None, step=None)
    if len(values) == 0:
        return values.copy()
    with np.errstate(all="ignore"):
        return func(np.ascontiguousarray(values, dtype=np.float64), start, end, minp)


def _zsqrt(x: np.ndarray) -> np.ndarray:
    """Return the square root with negative rounding noise as 0 (pandas' rolling ``std``)."""
    with np.errstate(all="ignore"):
        out = np.sqrt(x)
    out[x < 0] = 0
    return out
