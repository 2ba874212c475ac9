"""VaR backtests (Kupiec's POF test of each method's rolling one-day VaR) run as research-executor tasks.

Every (series, method, level) is one task; each series' returns are sent to the
workers once and the tasks return the test's numbers as a small record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.research.executor import DaskExecutor, SequentialExecutor
from core.risk.var_backtest import METHODS, backtest


def _task(returns: np.ndarray, spec: tuple[str, str, float, int, int]) -> dict[str, Any]:
    symbol, method, level, window, refit_every = spec
    res = backtest(returns, method, level, window=window, refit_every=refit_every)
    return {"symbol": symbol, "level": level, "method": method, "n": res.n, "exceedances": res.exceedances, "expected": res.expected,
            "rate": res.rate, "lr": res.lr, "p_value": res.p_value, "rejected": res.rejected()}


def var_backtests(returns: Mapping[str, pd.Series | np.ndarray], methods: Sequence[str] = METHODS, levels: Sequence[float] = (0.95, 0.99), *,
                  window: int = 500, refit_every: int = 20, executor: DaskExecutor | SequentialExecutor | None = None,
                  progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Return one row per (series, level, method): Kupiec's test of the rolling VaR, computed on ``executor``."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown VaR method {', '.join(unknown)}: choose from {', '.join(METHODS)}")
    shared = {s: np.asarray(pd.Series(r).dropna(), dtype=float) for s, r in returns.items()}
    short = [s for s, r in shared.items() if r.size <= window]
    if short:
        raise ValueError(f"{', '.join(short)}: need more than window={window} returns for a VaR backtest")
    tasks = [(f"var-{s}-{m}-{lv}-{window}-{refit_every}", s, (s, m, float(lv), int(window), int(refit_every)))
             for s in shared for lv in levels for m in methods]
    with (executor or DaskExecutor()) as ex:
        rows = list(ex.map(_task, tasks, shared, progress))
    order = {(t[2][0], t[2][2], t[2][1]): i for i, t in enumerate(tasks)}
    return pd.DataFrame(sorted(rows, key=lambda r: order[(r["symbol"], r["level"], r["method"])]))
