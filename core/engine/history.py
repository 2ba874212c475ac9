"""Growing per-symbol OHLCV history: what a strategy sees, ending at the newest bar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

_EPOCH = {None: datetime(1970, 1, 1), UTC: datetime(1970, 1, 1, tzinfo=UTC)}
_US = timedelta(microseconds=1)
_MIXED = object()  # timestamps that are not all plain UTC (or all naive) datetimes: build the index from the list


class History:
    """Growing OHLCV arrays of one symbol; views end at the newest bar."""

    __slots__ = ("_cap", "_data", "_ts", "_tz", "_us", "n")

    def __init__(self, capacity: int = 256) -> None:
        self._cap = max(capacity, 16)
        self._data = np.empty((5, self._cap))
        self._ts: list[Any] = []
        # The timestamps also as microseconds since the epoch: a frame's index is then a view, not 300 conversions.
        self._us = np.empty(self._cap, dtype=np.int64)
        self._tz: Any = _MIXED
        self.n = 0

    def append(self, ts: Any, o: float, h: float, lo: float, c: float, v: float) -> None:
        """Add the newest bar."""
        if self.n == self._cap:
            self._cap *= 2
            grown = np.empty((5, self._cap))
            grown[:, : self.n] = self._data[:, : self.n]
            self._data = grown
            us = np.empty(self._cap, dtype=np.int64)
            us[: self.n] = self._us[: self.n]
            self._us = us
        self._data[:, self.n] = (o, h, lo, c, v)
        self._ts.append(ts)
        if type(ts) is datetime and (ts.tzinfo is UTC or ts.tzinfo is None) and (self.n == 0 or ts.tzinfo is self._tz):
            self._tz = ts.tzinfo
            self._us[self.n] = (ts - _EPOCH[ts.tzinfo]) // _US
        else:
            self._tz = _MIXED
        self.n += 1

    @property
    def index(self) -> list[Any]:
        """Timestamps of the bars up to now (a copy)."""
        return self._ts[: self.n]

    def timestamps(self, last: int | None = None) -> list[Any]:
        """Return the timestamps of the history (or of its ``last`` bars)."""
        start = 0 if last is None else max(0, self.n - last)
        return self._ts[start : self.n]

    def same_recent(self, other: History, last: int) -> bool:
        """Return True when the last ``last`` timestamps of both histories are equal (one array compare when both are UTC/naive)."""
        a0, b0 = max(0, self.n - last), max(0, other.n - last)
        if self.n - a0 != other.n - b0:
            return False
        if self._tz is not _MIXED and self._tz is other._tz:
            return bool(np.array_equal(self._us[a0 : self.n], other._us[b0 : other.n]))
        return self._ts[a0 : self.n] == other._ts[b0 : other.n]

    def __len__(self) -> int:
        return self.n

    @property
    def open(self) -> np.ndarray:
        """Opens up to now (a read-only view)."""
        return self._view(0)

    @property
    def high(self) -> np.ndarray:
        """Highs up to now."""
        return self._view(1)

    @property
    def low(self) -> np.ndarray:
        """Lows up to now."""
        return self._view(2)

    @property
    def close(self) -> np.ndarray:
        """Closes up to now."""
        return self._view(3)

    @property
    def volume(self) -> np.ndarray:
        """Volumes up to now."""
        return self._view(4)

    def _view(self, row: int) -> np.ndarray:
        view = self._data[row, : self.n]
        view.flags.writeable = False
        return view

    def frame(self, last: int | None = None) -> pd.DataFrame:
        """Return the history (or its ``last`` bars) as an OHLCV DataFrame (a copy)."""
        start = 0 if last is None else max(0, self.n - last)
        if self._tz is _MIXED:
            idx = pd.DatetimeIndex(self._ts[start : self.n], name="ts")
        else:  # the same index as from the datetimes themselves (microsecond unit, UTC or naive)
            idx = pd.DatetimeIndex(self._us[start : self.n].copy().view("M8[us]"), name="ts")
            if self._tz is not None:
                idx = idx.tz_localize(self._tz)
        return pd.DataFrame(self._data[:, start : self.n].T.copy(), index=idx, columns=["open", "high", "low", "close", "volume"])
