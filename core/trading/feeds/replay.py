"""A replay feed over stored bars: the offline default market data of the trading loop.

Each :meth:`ReplayFeed.advance` releases the next ``bars_per_tick`` timestamps
of the union of the symbols' calendars. The cursor (the last released
timestamp) lives in the settings table, so a restarted host resumes where the
last one stopped and never re-releases or skips a bar.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from core.store import Store
from core.trading.feeds.base import FeedStatus

CURSOR_KEY = "replay.cursor"
OHLCV = ("open", "high", "low", "close", "volume")


class ReplayFeed:
    """Release historical bars one step at a time.

    Parameters
    ----------
    store
        Where the cursor is persisted.
    load
        ``load(symbol) -> DataFrame`` of validated bars (e.g. ``services.load_bars``).
    symbols
        Symbols to replay together.
    start_at
        Index (in the union calendar) of the first bar released; the bars
        before it are warm-up history visible from the start.
    bars_per_tick
        How many timestamps one :meth:`advance` releases (the replay speed).
    """

    def __init__(
        self,
        store: Store,
        load: Callable[[str], pd.DataFrame],
        symbols: list[str],
        start_at: int = 300,
        bars_per_tick: int = 1,
        name: str = "default",
    ) -> None:
        if bars_per_tick < 1:
            raise ValueError("bars_per_tick must be >= 1")
        self.store = store
        self.symbols = list(symbols)
        self.frames = {s: load(s) for s in self.symbols}
        self.calendar = pd.DatetimeIndex(sorted(set().union(*(f.index for f in self.frames.values()))))
        if len(self.calendar) <= start_at:
            raise ValueError(f"replay needs more than {start_at} bars; the symbols have {len(self.calendar)}")
        self.start_at = start_at
        self.bars_per_tick = bars_per_tick
        self.key = f"{CURSOR_KEY}.{name}"
        self._parsed: tuple[str, pd.Timestamp] | None = None  # the stored cursor and its Timestamp (read per symbol per bar)
        self._rows: dict[str, tuple[pd.Index, np.ndarray]] = {}

    @property
    def cursor(self) -> pd.Timestamp:
        """Return the last released timestamp."""
        stored = self.store.get_setting(self.key)
        if not stored:
            return self.start
        if self._parsed is None or self._parsed[0] != stored:
            self._parsed = (stored, pd.Timestamp(stored))
        return self._parsed[1]

    @property
    def start(self) -> pd.Timestamp:
        """Return the last warm-up bar."""
        return self.calendar[self.start_at - 1]

    @property
    def exhausted(self) -> bool:
        """Return True when every bar has been released."""
        return self.cursor >= self.calendar[-1]

    def advance(self) -> pd.Timestamp:
        """Release the next step and return the new cursor (unchanged when exhausted)."""
        pos = int(self.calendar.searchsorted(self.cursor, side="right"))
        if pos >= len(self.calendar):
            return self.cursor
        new = self.calendar[min(pos + self.bars_per_tick - 1, len(self.calendar) - 1)]
        self.store.set_setting(self.key, new.isoformat())
        return new

    def pending(self, after: pd.Timestamp, upto: pd.Timestamp) -> list[pd.Timestamp]:
        """Return the released timestamps in ``(after, upto]`` (a binary search: no scan of the calendar)."""
        upto = min(upto, self.cursor)
        lo, hi = self.calendar.searchsorted(after, side="right"), self.calendar.searchsorted(upto, side="right")
        return list(self.calendar[lo:hi])

    def row(self, symbol: str, ts: pd.Timestamp) -> tuple[float, ...] | None:
        """Return ``(open, high, low, close, volume)`` of ``symbol`` at the released ``ts`` (None when it has no bar there)."""
        if ts > self.cursor:
            return None
        rows = self._rows.get(symbol)
        if rows is None:  # the frame's OHLCV once as an array: a Series per symbol per bar costs more than the rest of the lookup
            frame = self.frames[symbol]
            rows = self._rows[symbol] = (frame.index, frame[list(OHLCV)].to_numpy(dtype=np.float64))
        index, values = rows
        try:
            pos = index.get_loc(ts)
        except KeyError:
            return None
        o, h, lo, c, v = values[pos].tolist()
        return o, h, lo, c, v

    def status(self) -> FeedStatus:
        """Return the replay's state: never stale, the market always "open"."""
        return FeedStatus(provider="replay", live=False, last_bar=self.cursor.isoformat())

    def reset(self) -> None:
        """Start the replay over."""
        self.store.set_setting(self.key, None)

    def history(self, symbol: str, upto: pd.Timestamp | None = None) -> pd.DataFrame:
        """Return ``symbol``'s bars released so far (ts <= cursor): never a future bar."""
        upto = self.cursor if upto is None else upto
        frame = self.frames[symbol]
        return frame.loc[frame.index <= upto]
