"""Seeded synthetic OHLCV bars for the benchmarks (geometric Brownian motion with volatility clusters)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_bars(n: int, seed: int = 0, start: str = "2000-01-03", freq: str = "B") -> pd.DataFrame:
    """Return ``n`` bars with a UTC ``ts`` index and float OHLCV columns."""
    rng = np.random.default_rng(seed)
    vol = 0.01 * np.exp(np.cumsum(rng.normal(0, 0.02, n)).clip(-1.5, 1.5))
    ret = rng.normal(0.0002, 1.0, n) * vol
    close = 100.0 * np.exp(np.cumsum(ret))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.005, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.005, n)))
    volume = np.exp(rng.normal(13, 0.5, n))
    idx = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="ts")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=idx)
