"""Market data that moves with a fake's clock: closed bars up to 'now' and the bar still forming."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class MovingBars:
    """Bars ``(open, high, low, close, volume)`` opening at ``start`` every ``step``.

    :meth:`upto` serves those opened at or before ``now``; the newest is still forming
    when its close time is after ``now`` (only its open is known then).
    """

    start: datetime
    step: timedelta
    bars: list[tuple[float, float, float, float, float]]

    def upto(self, now: datetime, lo: datetime | None = None, hi: datetime | None = None, limit: int = 10_000) -> list[tuple]:
        """Return ``(ts, o, h, l, c, v)`` rows opened in [lo, min(hi, now)], at most ``limit``."""
        out = []
        for i, (o, h, low, c, v) in enumerate(self.bars):
            ts = self.start + i * self.step
            if ts > now or (hi is not None and ts > hi) or len(out) >= limit:
                break
            if lo is not None and ts < lo:
                continue
            if ts + self.step > now:
                h, low, c, v = o, o, o, v / 10
            out.append((ts, o, h, low, c, v))
        return out
