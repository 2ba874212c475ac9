"""Probability of backtest overfitting by combinatorially symmetric cross-validation (CSCV).

D. H. Bailey, J. M. Borwein, M. López de Prado and Q. J. Zhu, "The Probability of
Backtest Overfitting", *Journal of Computational Finance* 20(4), 2017.

The returns of ``N`` trials over ``T`` periods are cut into ``S`` (even) blocks of
consecutive rows. For every way of choosing ``S/2`` blocks as the in-sample set
(the rest is out-of-sample) the trial with the best in-sample Sharpe ratio is
picked, and its out-of-sample Sharpe ratio is ranked among all trials:
``w = rank / (N + 1)`` and the logit ``l = ln(w / (1 - w))``. The PBO is the
share of splits where ``l <= 0``: the in-sample winner did no better than the
median trial out of sample. Pure noise gives about 0.5; a real edge gives about 0.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

CELLS = 2_000_000  # (split, trial) cells computed at once


@dataclass
class PboResult:
    """The PBO, the logit of every split and the in-sample vs out-of-sample ranks of a chronological split."""

    pbo: float
    n_splits: int
    n_combinations: int
    logits: np.ndarray
    is_sharpe: np.ndarray  # per split: in-sample Sharpe of the selected trial
    oos_sharpe: np.ndarray  # per split: its out-of-sample Sharpe
    rank_is: np.ndarray = field(default_factory=lambda: np.array([]))  # per trial, first half vs second half (0..1)
    rank_oos: np.ndarray = field(default_factory=lambda: np.array([]))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary (the arrays as lists)."""
        return {
            "pbo": self.pbo, "n_splits": self.n_splits, "n_combinations": self.n_combinations, "logits": self.logits.tolist(),
            "is_sharpe": self.is_sharpe.tolist(), "oos_sharpe": self.oos_sharpe.tolist(),
            "rank_is": self.rank_is.tolist(), "rank_oos": self.rank_oos.tolist(),
            "degradation_slope": _slope(self.is_sharpe, self.oos_sharpe),
        }  # fmt: skip


def _slope(x: np.ndarray, y: np.ndarray) -> float | None:
    if x.size < 2 or np.ptp(x) == 0:
        return None
    return float(np.polyfit(x, y, 1)[0])


def _sharpe(sums: np.ndarray, sumsq: np.ndarray, n: np.ndarray) -> np.ndarray:
    mean = sums / n
    var = (sumsq - n * mean**2) / np.maximum(n - 1, 1)
    sd = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(sd > 0, mean / sd, 0.0)
    return out


def _split_sharpes(blocks_sum: np.ndarray, blocks_sq: np.ndarray, blocks_n: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (in-sample, out-of-sample) Sharpe ratios, shape (combinations, trials), for boolean ``chosen`` (combinations, S)."""
    sel = chosen.astype(float)
    rest = 1.0 - sel
    is_sr = _sharpe(sel @ blocks_sum, sel @ blocks_sq, (sel @ blocks_n)[:, None])
    oos_sr = _sharpe(rest @ blocks_sum, rest @ blocks_sq, (rest @ blocks_n)[:, None])
    return is_sr, oos_sr


def probability_of_overfitting(returns: np.ndarray, n_splits: int = 16) -> PboResult:
    """Return the CSCV probability of backtest overfitting of the trials in ``returns``.

    Parameters
    ----------
    returns
        Array (T periods, N trials) of per-period returns on a common calendar.
    n_splits
        Number of blocks ``S`` (even); lowered to fit short samples (at least 2 rows per block).
    """
    m = np.asarray(returns, dtype=float)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError("the probability of backtest overfitting needs a (periods x trials) matrix with at least 2 trials")
    m = m[np.isfinite(m).all(axis=1)]
    t, n = m.shape
    s = min(int(n_splits), t // 2)
    s -= s % 2
    if s < 2:
        raise ValueError(f"the probability of backtest overfitting needs at least 4 common periods, got {t}")
    edges = np.linspace(0, t, s + 1).astype(int)
    blocks = [m[a:b] for a, b in itertools.pairwise(edges)]
    b_sum = np.stack([b.sum(axis=0) for b in blocks])
    b_sq = np.stack([(b**2).sum(axis=0) for b in blocks])
    b_n = np.array([len(b) for b in blocks], dtype=float)
    combos = list(itertools.combinations(range(s), s // 2))
    chosen = np.zeros((len(combos), s), dtype=bool)
    for i, c in enumerate(combos):
        chosen[i, list(c)] = True
    # In slices of splits: 12,870 splits x 10,000 trials would be ~1 GB per (splits, trials) array.
    step = max(1, CELLS // n)
    logits, is_best, oos_best = (np.empty(len(combos)) for _ in range(3))
    for a in range(0, len(combos), step):
        is_sr, oos_sr = _split_sharpes(b_sum, b_sq, b_n, chosen[a:a + step])
        best = np.argmax(is_sr, axis=1)
        rows = np.arange(len(best))
        picked = oos_sr[rows, best][:, None]
        rank = (oos_sr < picked).sum(axis=1) + ((oos_sr == picked).sum(axis=1) + 1) / 2.0  # 1 = worst, n = best, ties averaged
        w = rank / (n + 1.0)
        logits[a:a + step] = np.log(w / (1.0 - w))
        is_best[a:a + step], oos_best[a:a + step] = is_sr[rows, best], oos_sr[rows, best]
    first = np.zeros((1, s), dtype=bool)
    first[0, : s // 2] = True
    h_is, h_oos = _split_sharpes(b_sum, b_sq, b_n, first)
    return PboResult(
        pbo=float(np.mean(logits <= 0)), n_splits=s, n_combinations=len(combos), logits=logits,
        is_sharpe=is_best, oos_sharpe=oos_best,
        rank_is=stats.rankdata(h_is[0]) / n, rank_oos=stats.rankdata(h_oos[0]) / n,
    )  # fmt: skip
