"""Many compiled risk-checked backtests on one symbol's bars (a sweep's trials), the shared work done once.

:class:`SharedBars` validates and converts a frame once (what :func:`core.backtest.run_backtest`
does on every call), keeps the kernel's arrays and the calendar's periods per year, and lends
strategies a memo for indicators that several parameter sets share (the moving averages of a
sweep over SMA windows). :meth:`SharedBars.run` then costs about one kernel call: it runs the
same kernel, on the same arrays, through the same report function as ``run_backtest``'s
``fast_risk`` path, so its report is that path's report. It returns ``None`` where
``run_backtest`` would take the event path (the caller runs that instead).

The memo is process-wide and keyed by the bytes of the close prices, so the trials of one
symbol share it across tasks on a Dask worker too; it is bounded (least recently used arrays
are dropped beyond :data:`MEMO_BYTES`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.backtest.risk_path import kernel_inputs, risk_path_ok, simulate_arrays
from core.backtest.run import _frames, check_length, finish_report
from core.backtest.stats import periods_per_year, report_from_arrays
from core.brokers.paper.fill_model import FillModel
from core.engine.protect import StopPolicy
from core.engine.strategy import Strategy
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.state import MemoryStore

MEMO_BYTES = 256 * 2**20  # ~12,000 averages of 2,520 daily bars; a 1M-bar series is 8 MB

_lock = threading.Lock()
_arrays: OrderedDict[tuple[bytes, Hashable], np.ndarray] = OrderedDict()
_used = [0]


class _Memo(MutableMapping):
    """The process-wide indicator memo, seen from one close-price series (keys are the strategy's own)."""

    def __init__(self, digest: bytes) -> None:
        self._digest = digest

    def __getitem__(self, key: Hashable) -> np.ndarray:
        with _lock:
            out = _arrays[(self._digest, key)]
            _arrays.move_to_end((self._digest, key))
            return out

    def __setitem__(self, key: Hashable, value: np.ndarray) -> None:
        with _lock:
            old = _arrays.pop((self._digest, key), None)
            _used[0] += int(value.nbytes) - (int(old.nbytes) if old is not None else 0)
            _arrays[(self._digest, key)] = value
            while _used[0] > MEMO_BYTES and len(_arrays) > 1:
                _, dropped = _arrays.popitem(last=False)
                _used[0] -= int(dropped.nbytes)

    def __delitem__(self, key: Hashable) -> None:
        with _lock:
            _used[0] -= int(_arrays.pop((self._digest, key)).nbytes)

    def __iter__(self) -> Iterator[Hashable]:
        with _lock:
            return iter([k for d, k in _arrays if d == self._digest])

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class BatchRun:
    """One compiled risk-checked run: its report (as ``run_backtest``'s) and the equity at every bar of ``index``."""

    report: dict[str, Any]
    equity: np.ndarray
    index: pd.DatetimeIndex
    path: str = "fast_risk"


class SharedBars:
    """One symbol's bars, prepared once for many compiled risk-checked runs.

    Parameters
    ----------
    data
        The OHLCV frame (validated as ``run_backtest`` validates it; its errors are raised here).
    symbol
        The symbol (the name in risk reasons and reports).
    """

    def __init__(self, data: pd.DataFrame, symbol: str) -> None:
        self.symbol = symbol
        self.frames = _frames(data, symbol)
        frame = self.frames[symbol]
        self.index = frame.index
        self.inputs = kernel_inputs(frame)
        self.close = self.inputs[3]
        self._ppy: float | None = None
        self._ok: dict[tuple, bool] = {}
        self.memo = _Memo(hashlib.blake2b(self.close.tobytes(), digest_size=20).digest())

    @property
    def periods_per_year(self) -> float:
        """Return the calendar's periods per year (computed once)."""
        if self._ppy is None:
            self._ppy = periods_per_year(self.index)
        return self._ppy

    def run(self, strategy: Strategy, *, limits: RiskLimits, fill_model: FillModel, cash: float = 10_000.0, size: float = 1.0,
            lot_size: float = 1.0, stop: StopPolicy | None = None, warmup: int = 0) -> BatchRun | None:
        """Return the run ``run_backtest(risk=RiskEngine(limits), baseline=False, ...)`` gives on the compiled risk path.

        Returns None when that call would take the event path (a warm-up, slippage, a volume cap,
        a take-profit, forecast VaR, a strategy without ``fast_targets``, ...). Raises the
        ValueError ``run_backtest`` raises for too few bars; the amounts are the caller's to check
        (:func:`core.backtest.run.check_amounts`).
        """
        check_length(strategy, self.frames, warmup)
        # The answer depends on the strategy only through its class (does it have fast_targets?); a fresh engine's only on its limits.
        key = (type(strategy), fill_model, limits, stop, warmup)
        if key not in self._ok:
            self._ok[key] = risk_path_ok(strategy, self.frames, fill_model, RiskEngine(limits, store=MemoryStore()), None, stop, warmup)
        if not self._ok[key]:
            return None
        targets = strategy.fast_targets(self.close, memo=self.memo)
        eq, exposed, raw, nt, fees, unsized, _, _ = simulate_arrays(self.inputs, targets, cash, fill_model.taker_fee, size, lot_size, limits, stop)
        pnl = np.ascontiguousarray(raw[:nt, 5]) if nt else np.array([])
        rpct = np.ascontiguousarray(raw[:nt, 9]) if nt else np.array([])
        report = report_from_arrays(eq, self.index, pnl, rpct, cash, fees, exposed, self.periods_per_year)
        report["unsized_orders"] = int(unsized)
        finish_report(report, int(unsized), lot_size)
        report.update(strategy=strategy.name, params=strategy.get_params(), symbols=[self.symbol], path="fast_risk")
        return BatchRun(report, eq, self.index)
