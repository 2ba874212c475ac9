"""A thin, recordable gateway to TA-Lib's function API.

Every TA-Lib call of the feature set goes through :class:`TaCalls`, so the
benchmark can replay exactly the raw calls the features wrap and compare.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import talib


class TaCalls:
    """Call TA-Lib functions by name; optionally record each call for replay."""

    def __init__(self, record: list[tuple[str, tuple[np.ndarray, ...], dict[str, Any]]] | None = None) -> None:
        self.record = record

    def __call__(self, name: str, *inputs: np.ndarray, **params: Any) -> Any:
        """Return ``talib.<name>(*inputs, **params)``; inputs must be float64 arrays."""
        if self.record is not None:
            self.record.append((name, inputs, params))
        return getattr(talib, name)(*inputs, **params)


def replay(calls: list[tuple[str, tuple[np.ndarray, ...], dict[str, Any]]]) -> list[Any]:
    """Run recorded TA-Lib calls again and return their outputs (the raw baseline of the benchmark).

    The outputs are kept, as the feature set keeps them: discarding each one at
    once would let the allocator reuse the same pages and flatter the baseline.
    """
    return [getattr(talib, name)(*inputs, **params) for name, inputs, params in calls]
