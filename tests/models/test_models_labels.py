"""Labels checked against hand-computed cases."""

import numpy as np
import pandas as pd
import pytest

from core.models.labels import direction_labels, triple_barrier_labels


def _bars(close, high=None, low=None):
    idx = pd.date_range("2024-01-01", periods=len(close), freq="D", tz="UTC", name="ts")
    close = np.asarray(close, dtype=float)
    return pd.DataFrame(
        {"open": close, "high": close if high is None else high, "low": close if low is None else low, "close": close, "volume": 1.0}, index=idx
    )


def test_direction_with_horizon_two():
    lab = direction_labels(_bars([10, 11, 12, 11, 10, 10]), horizon=2)
    # 12/10 up, 11/11 flat (no label), 10/12 down, 10/11 down, then no future.
    np.testing.assert_array_equal(lab["y"].to_numpy(), [1, np.nan, 0, 0, np.nan, np.nan])
    np.testing.assert_allclose(lab["fwd_ret"].to_numpy()[:4], [0.2, 0.0, -1 / 6, -1 / 11])
    assert lab["t1"].iloc[0] == lab.index[2] and pd.isna(lab["t1"].iloc[4])


def test_dead_band_drops_small_moves():
    lab = direction_labels(_bars([100, 100.5, 103, 102]), horizon=1, dead_band=0.01)
    # +0.5% inside the band, +2.49% up, -0.97% inside the band.
    np.testing.assert_array_equal(lab["y"].to_numpy(), [np.nan, 1, np.nan, np.nan])


def test_triple_barrier_first_touch_wins():
    close = [100, 100, 100, 100, 100, 100]
    high = [100, 101, 103, 100, 100, 100]
    low = [100, 99, 99, 97, 100, 100]
    lab = triple_barrier_labels(_bars(close, high, low), horizon=3, upper=0.02, lower=0.02)
    # t=0: bar 2 reaches 103 >= 102 before any low <= 98 -> up. t=1: bar 2 high 103 -> up.
    # t=2: bar 3 low 97 <= 98 -> down. No more full windows after t=2.
    np.testing.assert_array_equal(lab["y"].to_numpy(), [1, 1, 0, np.nan, np.nan, np.nan])


def test_bad_horizon_is_rejected():
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        direction_labels(_bars([1, 2, 3]), horizon=0)


def test_dataset_uses_the_chosen_labels_and_drops_warm_up_rows():
    from core import services
    from core.features import FeatureConfig
    from core.models.dataset import build_dataset

    bars = services.load_bars("IBM").iloc[:400]
    tb = build_dataset({"IBM": bars}, horizon=4, labels="triple_barrier", barrier=0.03)
    ref = triple_barrier_labels(bars, 4, 0.03, 0.03)
    ref = ref.iloc[FeatureConfig().warmup :].dropna(subset=["y"])
    np.testing.assert_array_equal(tb.y, ref["y"].to_numpy().astype(int))
    assert (tb.t1 > tb.t0).all()
    with pytest.raises(ValueError, match="labels must be"):
        build_dataset({"IBM": bars}, labels="nope")
