"""The feed interface of the trading loop.

A feed yields **closed** bars per symbol, in time order, each once. The loop reads
``frames`` (one validated OHLCV frame per symbol, only bars released so far plus
the warm-up history), ``calendar`` (the union of their timestamps) and ``start``
(the last warm-up bar), and calls :meth:`Feed.advance` once per tick: it releases
what is new and returns the last released timestamp. ``status()`` says what the
UI shows: provider, last bar, its age, whether the data is stale, whether the
market is open.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import pandas as pd


@dataclass
class FeedStatus:
    """What a feed reports about itself (shown in the sidebar and on the Dashboard)."""

    provider: str
    live: bool
    last_bar: str | None = None
    age_seconds: float | None = None
    stale: bool = False
    market_open: bool = True
    error: str | None = None
    bars_received: int = 0
    outages: int = 0
    mode: str = "polling"  # "streaming" (bars pushed over the WebSocket) or "polling (why)"
    via: dict[str, int] = field(default_factory=dict)  # bars received per path ("stream", "rest")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


class Feed(Protocol):
    """Closed bars per symbol, in time order, each released once."""

    symbols: list[str]

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        """Return each symbol's bars released so far (warm-up history included)."""
        ...

    @property
    def calendar(self) -> pd.DatetimeIndex:
        """Return the sorted union of the released timestamps."""
        ...

    @property
    def start(self) -> pd.Timestamp:
        """Return the last warm-up bar: bars up to it are history, never traded."""
        ...

    @property
    def exhausted(self) -> bool:
        """Return True when no bar will ever come again (a finished replay)."""
        ...

    def pending(self, after: pd.Timestamp, upto: pd.Timestamp) -> list[pd.Timestamp]:
        """Return the released timestamps in ``(after, upto]``, oldest first (the per-tick path: no scan of the history)."""
        ...

    def row(self, symbol: str, ts: pd.Timestamp) -> tuple[float, ...] | None:
        """Return ``(open, high, low, close, volume)`` of ``symbol`` at the released ``ts`` (None when it has no bar there)."""
        ...

    def advance(self) -> pd.Timestamp:
        """Release what is new and return the last released timestamp."""
        ...

    def status(self) -> FeedStatus:
        """Return what the UI shows about this feed."""
        ...
