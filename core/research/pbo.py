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
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit
from scipy import stats


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


@njit(cache=True)
def _sharpe_into(out: np.ndarray, sums: np.ndarray, sumsq: np.ndarray, cnt: float) -> None:
    """Write :func:`_sharpe` of one split's sums into ``out``."""
    for j in range(out.shape[0]):
        mean = sums[j] / cnt
        var = (sumsq[j] - cnt * mean**2) / max(cnt - 1.0, 1.0)
        sd = math.sqrt(max(var, 0.0))
        out[j] = mean / sd if sd > 0 else 0.0


@njit(cache=True)
def _cscv(b_sum: np.ndarray, b_sq: np.ndarray, b_n: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (logit, in-sample Sharpe of the in-sample winner, its out-of-sample Sharpe) for every split in ``chosen``.

    One pass per split over the trials with :func:`_sharpe`'s arithmetic (block sums added in block order): no
    (splits x trials) arrays, which 10,000 trials would need ~1 GB each for (12,870 splits of 16 blocks). The winner
    is the first of equal in-sample maxima (as ``argmax``); its out-of-sample rank averages ties.
    """
    n_comb, s = chosen.shape
    n = b_sum.shape[1]
    logits, is_best, oos_best = np.empty(n_comb), np.empty(n_comb), np.empty(n_comb)
    is_s, is_q, oos_s, oos_q = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    is_sr, oos_sr = np.empty(n), np.empty(n)
    for c in range(n_comb):
        is_s[:] = 0.0
        is_q[:] = 0.0
        oos_s[:] = 0.0
        oos_q[:] = 0.0
        n_is = 0.0
        n_oos = 0.0
        for k in range(s):
            if chosen[c, k]:
                n_is += b_n[k]
                for j in range(n):
                    is_s[j] += b_sum[k, j]
                    is_q[j] += b_sq[k, j]
            else:
                n_oos += b_n[k]
                for j in range(n):
                    oos_s[j] += b_sum[k, j]
                    oos_q[j] += b_sq[k, j]
        _sharpe_into(is_sr, is_s, is_q, n_is)
        _sharpe_into(oos_sr, oos_s, oos_q, n_oos)
        best = 0
        for j in range(1, n):
            if is_sr[j] > is_sr[best]:
                best = j
        picked = oos_sr[best]
        below = 0
        ties = 0
        for j in range(n):
            if oos_sr[j] < picked:
                below += 1
            elif oos_sr[j] == picked:
                ties += 1
        w = (below + (ties + 1) / 2.0) / (n + 1.0)  # rank 1 = worst, n = best, ties averaged
        logits[c] = math.log(w / (1.0 - w))
        is_best[c], oos_best[c] = is_sr[best], picked
    return logits, is_best, oos_best


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
    logits, is_best, oos_best = _cscv(np.ascontiguousarray(b_sum), np.ascontiguousarray(b_sq), b_n, chosen)
    first = np.zeros((1, s), dtype=bool)
    first[0, : s // 2] = True
    h_is, h_oos = _split_sharpes(b_sum, b_sq, b_n, first)
    return PboResult(
        pbo=float(np.mean(logits <= 0)), n_splits=s, n_combinations=len(combos), logits=logits,
        is_sharpe=is_best, oos_sharpe=oos_best,
        rank_is=stats.rankdata(h_is[0]) / n, rank_oos=stats.rankdata(h_oos[0]) / n,
    )  # fmt: skip
