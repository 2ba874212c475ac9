"""Pool features and labels of several symbols into one time-ordered training set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.features import FeatureConfig, compute
from core.models.labels import direction_labels


@dataclass
class Dataset:
    """Rows sorted by start time ``t0`` (then symbol); ``t1`` is each label's last bar."""

    X: pd.DataFrame
    y: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    symbol: np.ndarray
    fwd_ret: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx: np.ndarray) -> Dataset:
        """Return the rows at positions ``idx``."""
        return Dataset(self.X.iloc[idx], self.y[idx], self.t0[idx], self.t1[idx], self.symbol[idx], self.fwd_ret[idx])


def build_dataset(
    bars_by_symbol: dict[str, pd.DataFrame],
    horizon: int = 5,
    dead_band: float = 0.0,
    config: FeatureConfig | None = None,
) -> Dataset:
    """Return the pooled dataset: rows past the warm-up window with a label.

    Parameters
    ----------
    bars_by_symbol
        Bars per symbol, each oldest first.
    horizon
        Label horizon in bars.
    dead_band
        Returns within ±dead_band are left unlabelled (see :func:`direction_labels`).
    config
        Feature windows.
    """
    cfg = config or FeatureConfig()
    parts = []
    for symbol, bars in bars_by_symbol.items():
        feats = compute(bars, cfg)
        lab = direction_labels(bars, horizon, dead_band)
        ok = np.zeros(len(bars), dtype=bool)
        ok[cfg.warmup :] = True
        ok &= lab["y"].notna().to_numpy() & feats.notna().all(axis=1).to_numpy()
        part = feats[ok].reset_index(drop=True)
        part["__y"] = lab["y"].to_numpy()[ok].astype(int)
        part["__t0"] = pd.DatetimeIndex(bars.index)[ok]
        part["__t1"] = lab["t1"].to_numpy()[ok]
        part["__ret"] = lab["fwd_ret"].to_numpy()[ok]
        part["__sym"] = symbol
        parts.append(part)
    if not parts or sum(len(p) for p in parts) == 0:
        raise ValueError(f"no labelled rows after the {cfg.warmup}-bar warm-up: give each symbol more bars than warm-up + horizon")
    df = pd.concat(parts, ignore_index=True).sort_values(["__t0", "__sym"], kind="stable").reset_index(drop=True)
    meta = ["__y", "__t0", "__t1", "__ret", "__sym"]
    return Dataset(
        X=df.drop(columns=meta),
        y=df["__y"].to_numpy(),
        t0=df["__t0"].to_numpy(),
        t1=df["__t1"].to_numpy(),
        symbol=df["__sym"].to_numpy(dtype=object),
        fwd_ret=df["__ret"].to_numpy(),
    )
