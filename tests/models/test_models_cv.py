"""Purged walk-forward: hand-computed folds and the no-overlap invariant on pooled symbols."""

import numpy as np
import pandas as pd
import pytest

from core.models.cv import PurgedWalkForward


def test_hand_computed_folds_with_purge_and_embargo():
    # 12 daily samples of one symbol, label horizon 2 bars: t1 = t0 + 2.
    t0 = np.arange(12)
    t1 = t0 + 2
    folds = list(PurgedWalkForward(n_splits=2, embargo=1).split(t0, t1))
    # Unique times cut at linspace(0, 12, 4) = [0, 4, 8, 12]: tests are [4..7] and [8..11].
    # Fold 1: labels must end before 4 - embargo(1) = 3, so t1 <= 2 -> t0 <= 0.
    np.testing.assert_array_equal(folds[0][1], [4, 5, 6, 7])
    np.testing.assert_array_equal(folds[0][0], [0])
    # Fold 2: t1 < 8 - 1 = 7 -> t0 <= 4.
    np.testing.assert_array_equal(folds[1][1], [8, 9, 10, 11])
    np.testing.assert_array_equal(folds[1][0], [0, 1, 2, 3, 4])


def test_rolling_window_keeps_only_recent_training_rows():
    t0 = np.arange(20)
    folds = list(PurgedWalkForward(n_splits=3, embargo=0, mode="rolling", train_size=4).split(t0, t0 + 1))
    for train, test in folds:
        assert train.max() + 1 < test.min()  # label of the last training row ends before the fold
        assert len(train) <= 4


def _pooled(horizon: int):
    # Two symbols with different calendars (weekdays only vs every day), pooled and time-sorted.
    rows = []
    for sym, freq in (("EQ", "B"), ("BTC", "D")):
        ts = pd.date_range("2020-01-01", periods=300, freq=freq, tz="UTC")
        for i in range(len(ts) - horizon):
            rows.append((ts[i], ts[i + horizon], sym))
    df = pd.DataFrame(rows, columns=["t0", "t1", "sym"]).sort_values(["t0", "sym"]).reset_index(drop=True)
    return df["t0"].to_numpy(), df["t1"].to_numpy()


@pytest.mark.parametrize("embargo", [0, 3])
def test_no_training_label_window_overlaps_its_test_fold(embargo):
    horizon = 5
    t0, t1 = _pooled(horizon)
    grid = np.unique(t0)
    folds = list(PurgedWalkForward(n_splits=4, embargo=embargo).split(t0, t1))
    assert len(folds) == 4
    seen_test = np.concatenate([test for _, test in folds])
    assert len(np.unique(seen_test)) == len(seen_test)  # each sample tested at most once
    for train, test in folds:
        fold_start, fold_end = t0[test].min(), t1[test].max()
        # Independent check of the purge: interval [t0, t1] of each training row vs the fold's span.
        overlaps = (t0[train] <= fold_end) & (t1[train] >= fold_start)
        assert not overlaps.any()
        # Embargo: at least `embargo` grid times strictly between the last training label end and the fold.
        between = ((grid > t1[train].max()) & (grid < fold_start)).sum()
        assert between >= embargo
        # The purge is not over-eager: the next-older sample would have overlapped.
        dropped = np.setdiff1d(np.flatnonzero(t0 < fold_start), train)
        assert (t1[dropped] >= grid[np.searchsorted(grid, fold_start) - embargo]).all()


def test_errors_say_what_to_change():
    with pytest.raises(ValueError, match="use fewer folds or more data"):
        list(PurgedWalkForward(n_splits=5).split(np.arange(3), np.arange(3)))
    with pytest.raises(ValueError, match="rolling mode needs train_size"):
        list(PurgedWalkForward(mode="rolling").split(np.arange(30), np.arange(30)))
