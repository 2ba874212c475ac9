"""A thin, recordable gateway to TA-Lib's function API.

Every TA-Lib call of the feature set goes through :class:`TaCalls`, so the
benchmark can replay exactly the raw calls the features wrap and compare.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import talib


def _raw(name: str) -> Any:
    """Return TA-Lib's compiled function ``name`` without the Python wrapper that looks for pandas/polars inputs.

    ``talib.<name>`` wraps the Cython function to accept Series; with arrays it calls the
    same function with the same arguments, so the outputs are identical. The wrapper's
    type checks cost more than the computation itself on a few hundred bars.
    """
    fn = getattr(talib, name)
    return getattr(fn, "__wrapped__", fn)


_FUNCS: dict[str, Any] = {}


class TaCalls:
    """Call TA-Lib functions by name; optionally record each call for replay."""

    def __init__(self, record: list[tuple[str, tuple[np.ndarray, ...], dict[str, Any]]] | None = None) -> None:
        self.record = record

    def __call__(self, name: str, *inputs: np.ndarray, **params: Any) -> Any:
        """Return ``talib.<name>(*inputs, **params)``; inputs must be float64 arrays."""
        if self.record is not None:
            self.record.append((name, inputs, params))
        fn = _FUNCS.get(name)
        if fn is None:
            fn = _FUNCS[name] = _raw(name)
        return fn(*inputs, **params)


def replay(calls: list[tuple[str, tuple[np.ndarray, ...], dict[str, Any]]]) -> list[Any]:
    """Run recorded TA-Lib calls again and return their outputs (the raw baseline of the benchmark).

    The outputs are kept, as the feature set keeps them: discarding each one at
    once would let the allocator reuse the same pages and flatter the baseline.
    """
    return [_raw(name)(*inputs, **params) for name, inputs, params in calls]
