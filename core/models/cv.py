"""Walk-forward splits with purge and embargo (de Prado, *Advances in Financial ML*, ch. 7).

Samples are (symbol, t) rows pooled across symbols; each has a start ``t0``
(the bar whose features it uses) and a label end ``t1`` (the last bar its label
looked at). Folds are blocks of the sorted unique start times. A training
sample is kept only when its whole label window ends before the test fold
starts (purge), with ``embargo`` further time steps left empty in between so
serially correlated features cannot bridge the gap.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class PurgedWalkForward:
    """Expanding- or rolling-window walk-forward splitter with purge and embargo.

    Parameters
    ----------
    n_splits
        Number of test folds; the unique times are cut into ``n_splits + 1``
        equal blocks, the first one is only ever trained on.
    embargo
        Time steps (unique sample times) left out between the end of the last
        training label window and the test fold.
    mode
        ``"expanding"`` trains on everything before the fold; ``"rolling"`` on
        the last ``train_size`` time steps only.
    train_size
        Rolling window length in time steps (rolling mode only).
    """

    def __init__(self, n_splits: int = 5, embargo: int = 0, mode: str = "expanding", train_size: int | None = None) -> None:
        self.n_splits = n_splits
        self.embargo = embargo
        self.mode = mode
        self.train_size = train_size

    def get_n_splits(self, *_: object, **__: object) -> int:
        """Return the number of folds."""
        return self.n_splits

    def split(self, t0: np.ndarray, t1: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_idx, test_idx)`` integer positions for each fold, oldest fold first.

        Parameters
        ----------
        t0
            Sample start times (datetime64 or any ordered values), one per sample.
        t1
            Label end times, ``t1 >= t0``; NaT is not allowed (drop unlabelled rows first).
        """
        if self.mode not in ("expanding", "rolling"):
            raise ValueError(f"mode must be 'expanding' or 'rolling', got {self.mode!r}")
        if self.mode == "rolling" and not self.train_size:
            raise ValueError("rolling mode needs train_size (time steps in the training window)")
        if self.n_splits < 1 or self.embargo < 0:
            raise ValueError("n_splits must be >= 1 and embargo >= 0")
        t0 = np.asarray(t0)
        t1 = np.asarray(t1)
        if t0.shape != t1.shape:
            raise ValueError("t0 and t1 must have one entry per sample")
        times = np.unique(t0)
        if len(times) < self.n_splits + 1:
            raise ValueError(f"{len(times)} distinct times cannot make {self.n_splits} walk-forward folds: use fewer folds or more data")
        # Position of each label end on the grid of sample times (searchsorted: a t1 between grid points rounds up).
        pos0 = np.searchsorted(times, t0, side="left")
        pos1 = np.searchsorted(times, t1, side="left")
        edges = np.linspace(0, len(times), self.n_splits + 2).astype(int)
        for k in range(self.n_splits):
            start, stop = edges[k + 1], edges[k + 2]
            test = np.flatnonzero((pos0 >= start) & (pos0 < stop))
            cutoff = start - self.embargo  # last allowed label end position is cutoff - 1
            keep = pos1 < cutoff
            if self.mode == "rolling":
                keep &= pos0 >= cutoff - int(self.train_size)
            train = np.flatnonzero(keep)
            if len(train) == 0 or len(test) == 0:
                continue
            yield train, test
