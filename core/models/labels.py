"""Labels: direction of the forward return, with an optional dead band or triple barrier.

The label at t looks into the future (bars t+1 .. t+horizon), so each label
carries the timestamp ``t1`` of the last bar it used: the walk-forward splitter
purges training samples whose window [t, t1] overlaps a test fold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def direction_labels(bars: pd.DataFrame, horizon: int = 5, dead_band: float = 0.0) -> pd.DataFrame:
    """Return ``y`` (1 up, 0 down, NaN inside the dead band or past the end), ``fwd_ret`` and ``t1``.

    Parameters
    ----------
    bars
        OHLCV bars, oldest first.
    horizon
        Bars ahead: the label compares close[t + horizon] with close[t].
    dead_band
        Absolute simple returns with ``|r| <= dead_band`` get no label (NaN),
        so the model is not trained on noise around zero.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 bar, got {horizon}")
    if dead_band < 0:
        raise ValueError(f"dead_band must be >= 0, got {dead_band}")
    close = bars["close"].to_numpy(dtype=np.float64)
    n = len(close)
    fwd = np.full(n, np.nan)
    if n > horizon:
        fwd[: n - horizon] = close[horizon:] / close[: n - horizon] - 1.0
    y = np.where(fwd > dead_band, 1.0, np.where(fwd < -dead_band, 0.0, np.nan))
    y[np.isnan(fwd)] = np.nan
    if dead_band == 0.0:
        # Exactly flat closes carry no direction: leave them unlabelled too.
        y[fwd == 0.0] = np.nan
    t1 = _label_end(bars.index, horizon)
    return pd.DataFrame({"y": y, "fwd_ret": fwd, "t1": t1}, index=bars.index)


def triple_barrier_labels(bars: pd.DataFrame, horizon: int = 5, upper: float = 0.02, lower: float = 0.02) -> pd.DataFrame:
    """Return labels by the first barrier touched within ``horizon`` bars (de Prado's triple barrier).

    1 when the high reaches ``close*(1+upper)`` first, 0 when the low reaches
    ``close*(1-lower)`` first; when neither is hit, the sign of the return at the
    vertical barrier (NaN if exactly flat). A bar touching both barriers counts
    as a loss (the conservative reading). ``t1`` is the vertical barrier, the
    longest window the label may have looked at.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 bar, got {horizon}")
    close = bars["close"].to_numpy(dtype=np.float64)
    high = bars["high"].to_numpy(dtype=np.float64)
    low = bars["low"].to_numpy(dtype=np.float64)
    n = len(close)
    y = np.full(n, np.nan)
    fwd = np.full(n, np.nan)
    for t in range(n - horizon):
        up, dn = close[t] * (1.0 + upper), close[t] * (1.0 - lower)
        fwd[t] = close[t + horizon] / close[t] - 1.0
        for k in range(t + 1, t + horizon + 1):
            if low[k] <= dn:
                y[t] = 0.0
                break
            if high[k] >= up:
                y[t] = 1.0
                break
        else:
            y[t] = 1.0 if fwd[t] > 0 else (0.0 if fwd[t] < 0 else np.nan)
    return pd.DataFrame({"y": y, "fwd_ret": fwd, "t1": _label_end(bars.index, horizon)}, index=bars.index)


def _label_end(index: pd.Index, horizon: int) -> pd.Series:
    ts = pd.DatetimeIndex(index)
    end = pd.Series(pd.NaT, index=index, dtype=ts.dtype)
    if len(ts) > horizon:
        end.iloc[: len(ts) - horizon] = ts[horizon:]
    return end
