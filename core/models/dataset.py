"""Pool features and labels of several symbols into one time-ordered training set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.features import FeatureConfig
from core.models.labels import direction_labels, triple_barrier_labels


def _utc64(values: object) -> np.ndarray:
    """Return timestamps as naive-UTC datetime64[ns] (fast to sort and search, unlike Timestamp objects)."""
    idx = pd.DatetimeIndex(values)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.to_numpy(dtype="datetime64[ns]")


@dataclass
class Dataset:
    """Rows sorted by start time ``t0`` (then symbol); ``t1`` is each label's last bar.

    Times are naive-UTC ``datetime64[ns]`` arrays.
    """

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
    labels: str = "direction",
    barrier: float = 0.02,
    news: pd.DataFrame | None = None,
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
    labels
        ``"direction"`` (sign of the horizon return, with ``dead_band``) or
        ``"triple_barrier"`` (first of ±``barrier`` touched within the horizon).
    barrier
        Barrier distance for triple-barrier labels (fraction of the close).
    news
        Headlines (published, symbols, sentiment) for a feature set with sentiment
        (see :mod:`core.models.model_features`).
    """
    from core.models.model_features import model_features

    if labels not in ("direction", "triple_barrier"):
        raise ValueError(f"labels must be 'direction' or 'triple_barrier', got {labels!r}")
    cfg = config or FeatureConfig()
    xs, meta = [], {"y": [], "t0": [], "t1": [], "ret": [], "sym": []}
    for symbol, bars in bars_by_symbol.items():
        feats = model_features(bars, cfg, symbol, news)
        lab = direction_labels(bars, horizon, dead_band) if labels == "direction" else triple_barrier_labels(bars, horizon, barrier, barrier)
        ok = np.zeros(len(bars), dtype=bool)
        ok[cfg.warmup :] = True
        ok &= lab["y"].notna().to_numpy() & feats.notna().all(axis=1).to_numpy()
        xs.append(feats.to_numpy(dtype=np.float64)[ok])
        meta["y"].append(lab["y"].to_numpy()[ok].astype(int))
        meta["t0"].append(_utc64(bars.index)[ok])
        meta["t1"].append(_utc64(lab["t1"])[ok])
        meta["ret"].append(lab["fwd_ret"].to_numpy()[ok])
        meta["sym"].append(np.full(int(ok.sum()), symbol, dtype=object))
        columns = list(feats.columns)
    if not xs or sum(len(x) for x in xs) == 0:
        raise ValueError(f"no labelled rows after the {cfg.warmup}-bar warm-up: give each symbol more bars than warm-up + horizon")
    m = {k: np.concatenate(v) for k, v in meta.items()}
    order = np.lexsort((m["sym"].astype(str), m["t0"]))  # time first, then symbol
    return Dataset(
        X=pd.DataFrame(np.concatenate(xs)[order], columns=columns),
        y=m["y"][order],
        t0=m["t0"][order],
        t1=m["t1"][order],
        symbol=m["sym"][order],
        fwd_ret=m["ret"][order],
    )
