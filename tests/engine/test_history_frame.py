"""History.frame: the window a strategy reads, with the index pandas builds from the bars' own timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from core.engine.history import History


def _filled(stamps: list) -> History:
    hist = History(capacity=16)  # grows (twice) while filling: the index must survive the copies
    for i, ts in enumerate(stamps):
        hist.append(ts, 10.0 + i, 11.0 + i, 9.0 + i, 10.5 + i, 1000.0 * i)
    return hist


@pytest.mark.parametrize("tz", [UTC, None, ZoneInfo("America/New_York")])
def test_frame_index_is_what_pandas_builds_from_the_timestamps(tz):
    start = datetime(2024, 3, 8, 14, 30, 0, 123456, tzinfo=tz)  # across a DST change in New York, microseconds kept
    stamps = [start + timedelta(hours=7 * i) for i in range(50)]
    hist = _filled(stamps)
    for last in (None, 1, 7, 50, 80):
        frame = hist.frame(last=last)
        expected = stamps if last is None else stamps[-last:]
        pd.testing.assert_index_equal(frame.index, pd.DatetimeIndex(expected, name="ts"), exact=True)
        assert frame.columns.tolist() == ["open", "high", "low", "close", "volume"]
        first = len(stamps) - len(expected)
        assert frame["open"].tolist() == [10.0 + i for i in range(first, len(stamps))]
        assert frame["volume"].tolist() == [1000.0 * i for i in range(first, len(stamps))]


def test_mixed_timestamps_keep_the_list_path():
    stamps = [datetime(2024, 1, 1, tzinfo=UTC), pd.Timestamp("2024-01-02 00:00:00.000000001", tz="UTC")]
    frame = _filled(stamps).frame()
    pd.testing.assert_index_equal(frame.index, pd.DatetimeIndex(stamps, name="ts"), exact=True)
    assert frame.index[-1].nanosecond == 1


def test_frame_is_a_copy():
    hist = _filled([datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=i) for i in range(3)])
    frame = hist.frame()
    hist.append(datetime(2024, 1, 4, tzinfo=UTC), 1.0, 1.0, 1.0, 1.0, 1.0)
    assert len(frame) == 3 and np.isfinite(frame.to_numpy()).all()


def test_same_recent_compares_the_last_timestamps_like_the_lists_do():
    from datetime import UTC, datetime, timedelta

    from core.engine.history import History

    def hist(stamps):
        h = History(capacity=4)
        for ts in stamps:
            h.append(ts, 1.0, 1.0, 1.0, 1.0, 1.0)
        return h

    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    days = [t0 + timedelta(days=i) for i in range(30)]
    a, b = hist(days), hist(days[5:])
    gap = hist(days[5:17] + days[18:])  # one bar missing in the middle, same length as c below
    c = hist(days[4:17] + days[18:])
    naive = hist([d.replace(tzinfo=None) for d in days])
    for x, y, last in [(a, b, 10), (a, b, 25), (a, b, 26), (gap, c, 10), (gap, c, 13), (gap, c, 14), (a, naive, 5), (a, hist([]), 3)]:
        expected = x.timestamps(last=last) == y.timestamps(last=last)
        assert x.same_recent(y, last) is expected, (last, expected)
    assert a.same_recent(b, 25) and not a.same_recent(b, 26) and not a.same_recent(naive, 5)
