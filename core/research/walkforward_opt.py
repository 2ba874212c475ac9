"""Walk-forward optimisation: choose parameters on each training window, trade them on the next window.

Each symbol's bars are cut into ``windows + 1`` equal chunks. For window ``k`` the
parameter set with the best Sharpe ratio on the training chunk(s) (chunk ``k``, or
chunks ``0..k`` when ``anchored``) is traded on chunk ``k + 1``; the training bars
are history the strategy sees (its indicators are warm) but never trades. Only
those out-of-sample test windows are reported, stitched one after another: each
starts flat and its returns compound onto the previous window's equity. Every
backtest (training and test) is a risk-checked trial run on the research executor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.research.executor import DaskExecutor, SequentialExecutor
from core.research.grid import combinations
from core.research.trial import TrialSpec, run_trial, trial_key

Progress = Callable[[int, int], None]


@dataclass
class WalkForwardResult:
    """The stitched out-of-sample equity per symbol and for their equal-weight mix, its metrics, and each window's choice."""

    equity: pd.DataFrame  # columns: each symbol and "portfolio", starting at cash
    metrics: dict[str, dict[str, float | None]]
    windows: pd.DataFrame
    n_skipped: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (no equity curve, which is long)."""
        return {"metrics": self.metrics, "windows": self.windows.astype({"train_start": str, "test_start": str, "test_end": str}).to_dict("records"),
                "n_skipped": self.n_skipped}


def _bounds(n: int, windows: int, anchored: bool) -> list[tuple[int, int, int]]:
    """Return (train start, test start, test end) rows for each window."""
    chunk = n // (windows + 1)
    if chunk < 3:
        raise ValueError(f"{n} bars are too few for {windows} walk-forward windows; use fewer windows or more history")
    out = []
    for k in range(windows):
        test_start = (k + 1) * chunk
        test_end = n if k == windows - 1 else (k + 2) * chunk
        out.append((0 if anchored else k * chunk, test_start, test_end))
    return out


def oos_metrics(returns: pd.Series, ppy: float) -> dict[str, float | None]:
    """Return total return %, CAGR %, annualised Sharpe and max drawdown % of stitched per-bar ``returns``."""
    rets = returns.dropna().to_numpy(dtype=float)
    if rets.size < 2:
        return {"return_pct": None, "cagr_pct": None, "sharpe": None, "max_drawdown_pct": None}
    curve = np.concatenate([[1.0], np.cumprod(1.0 + rets)])
    sd = rets.std(ddof=1)
    growth = curve[-1]
    return {
        "return_pct": (growth - 1.0) * 100, "cagr_pct": (growth ** (ppy / rets.size) - 1.0) * 100 if growth > 0 else -100.0,
        "sharpe": float(rets.mean() / sd * math.sqrt(ppy)) if sd > 0 else None,
        "max_drawdown_pct": float((curve / np.maximum.accumulate(curve) - 1.0).min() * 100),
    }  # fmt: skip


def walk_forward_optimise(
    frames: Mapping[str, pd.DataFrame],
    strategy: str,
    grid: Mapping[str, Sequence[Any]],
    *,
    limits: Any,
    windows: int = 4,
    anchored: bool = False,
    base: Mapping[str, Any] | None = None,
    sample: int | None = None,
    seed: int = 0,
    cash: float = 10_000.0,
    commission: float = 0.0,
    size: float = 1.0,
    lot_size: float = 1.0,
    slippage_bps: float = 0.0,
    max_volume_share: float = 0.0,
    stop: Any = None,
    executor: DaskExecutor | SequentialExecutor | None = None,
    progress: Progress | None = None,
) -> WalkForwardResult:
    """Optimise ``grid`` on each training window and return only the stitched out-of-sample result.

    Every training and test backtest uses the same fill model (``commission``, ``slippage_bps``,
    ``max_volume_share``) and protective ``stop`` as a single backtest with these inputs.
    """
    if windows < 1:
        raise ValueError(f"walk-forward needs at least 1 window, not {windows}")
    params_list, skipped = combinations(strategy, grid, base=base, sample=sample, seed=seed)
    if not params_list:
        raise ValueError(f"no valid parameter set in the grid ({skipped} combinations refused by {strategy})")
    bounds = {sym: _bounds(len(f), windows, anchored) for sym, f in frames.items()}
    common = dict(limits=limits, cash=cash, commission=commission, size=size, lot_size=lot_size, slippage_bps=slippage_bps,
                  max_volume_share=max_volume_share, stop=stop)
    train = [(f"wf-train-{sym}-{k}-{trial_key(p, sym)}", sym, TrialSpec(trial_key(p, sym, f"train{k}"), sym, strategy, p, rows=(a, b),
              tags={"window": k}, **common)) for sym, bs in bounds.items() for k, (a, b, _) in enumerate(bs) for p in params_list]
    total = len(train) + windows * len(frames)
    executor = executor or DaskExecutor()
    with executor:
        best: dict[tuple[str, int], dict[str, Any]] = {}
        for rec in executor.map(run_trial, train, frames, (lambda i, _n: progress(i, total)) if progress else None):
            sr = (rec.get("metrics") or {}).get("sharpe")
            slot = (rec["symbol"], rec["tags"]["window"])
            score = (sr if sr is not None else -math.inf, rec["key"])
            if slot not in best or score > best[slot]["score"]:
                best[slot] = {"score": score, "params": rec["params"], "train_sharpe": sr}
        test = []
        for sym, bs in bounds.items():
            for k, (a, b, c) in enumerate(bs):
                params = best[(sym, k)]["params"]
                test.append((f"wf-test-{sym}-{k}-{trial_key(params, sym)}", sym,
                             TrialSpec(trial_key(params, sym, f"test{k}"), sym, strategy, params, rows=(a, c), warmup=b - a, daily=True,
                                       tags={"window": k}, **common)))
        tested = list(executor.map(run_trial, test, frames, (lambda i, _n: progress(len(train) + i, total)) if progress else None))
    return _stitch(frames, bounds, best, tested, cash, skipped)


def _stitch(frames: Mapping[str, pd.DataFrame], bounds: dict[str, list[tuple[int, int, int]]], best: dict[tuple[str, int], dict[str, Any]],
            tested: list[dict[str, Any]], cash: float, skipped: int) -> WalkForwardResult:
    by_slot = {(r["symbol"], r["tags"]["window"]): r for r in tested}
    curves, rows, ppy = {}, [], 252.0
    for sym, bs in bounds.items():
        index = pd.DatetimeIndex(frames[sym].index)
        parts = []
        for k, (a, b, c) in enumerate(bs):
            rec = by_slot[(sym, k)]
            if rec.get("error"):
                raise ValueError(f"walk-forward test window {k + 1} on {sym} failed: {rec['error']}")
            eq = pd.Series(rec["equity"]["daily"], index=pd.to_datetime(rec["equity"]["days"], utc=True))
            parts.append(eq.pct_change().fillna(eq.iloc[0] / cash - 1.0))
            ppy = float(rec["metrics"].get("periods_per_year") or ppy)
            rows.append({"symbol": sym, "window": k + 1, "train_start": index[a], "test_start": index[b], "test_end": index[c - 1],
                         "params": best[(sym, k)]["params"], "train_sharpe": best[(sym, k)]["train_sharpe"], "test_sharpe": rec["metrics"].get("sharpe"),
                         "test_return_pct": rec["metrics"].get("return_pct"), "test_trades": rec["metrics"].get("trades")})
        rets = pd.concat(parts)
        curves[sym] = rets[~rets.index.duplicated(keep="first")]
    rets = pd.DataFrame(curves).sort_index()
    mixed = rets.mean(axis=1, skipna=True)  # equal weight over the symbols trading that day
    equity = (1.0 + rets.fillna(0.0)).cumprod() * cash
    equity["portfolio"] = (1.0 + mixed).cumprod() * cash
    rets["portfolio"] = mixed
    metrics = {col: oos_metrics(rets[col], ppy) for col in rets}
    return WalkForwardResult(equity, metrics, pd.DataFrame(rows), skipped)
