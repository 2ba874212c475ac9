"""Lease and replay-feed tests on SQLite and PostgreSQL."""

import threading
from datetime import UTC, datetime, timedelta

import pandas as pd

from core.clock import FixedClock
from core.store import Store
from core.trading.feeds import ReplayFeed
from core.trading.lease import Lease

T0 = datetime(2024, 1, 2, tzinfo=UTC)


def test_second_host_waits_until_expiry(db_url):
    clock = FixedClock(T0)
    store = Store(db_url, clock=clock)
    a = Lease(store, "account:paper", "host-a", ttl=timedelta(seconds=30))
    b = Lease(store, "account:paper", "host-b", ttl=timedelta(seconds=30))
    assert a.acquire() is True
    assert b.acquire() is False
    clock.advance(timedelta(seconds=20))
    assert a.acquire() is True  # renewal by the holder extends expiry
    clock.advance(timedelta(seconds=20))
    assert b.acquire() is False  # a renewed at +20 s, so it holds until +50 s
    clock.advance(timedelta(seconds=11))
    assert b.acquire() is True  # a stopped renewing: b takes over
    assert a.acquire() is False
    assert a.current().holder == "host-b"
    b.release()
    assert a.acquire() is True


def test_racing_hosts_never_both_win(db_url):
    store = Store(db_url, clock=FixedClock(T0))
    wins = []
    barrier = threading.Barrier(8)

    def contender(i):
        lease = Lease(Store(db_url, clock=FixedClock(T0)), "account:race", f"h{i}")
        barrier.wait()
        if lease.acquire():
            wins.append(i)

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert Lease(store, "account:race").current().holder == f"h{wins[0]}"


def test_replay_releases_bars_in_order_and_resumes_after_restart(sqlite_url):
    idx_a = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC", name="ts")
    idx_b = idx_a.delete(2)  # b has no bar on Jan 3rd
    frames = {
        "A": pd.DataFrame({"open": 1.0, "high": 2.0, "low": 0.5, "close": range(1, 7), "volume": 1.0}, index=idx_a, dtype=float),
        "B": pd.DataFrame({"open": 1.0, "high": 2.0, "low": 0.5, "close": range(1, 6), "volume": 1.0}, index=idx_b, dtype=float),
    }
    store = Store(sqlite_url)
    feed = ReplayFeed(store, frames.__getitem__, ["A", "B"], start_at=2)
    assert feed.cursor == idx_a[1]
    assert list(feed.history("A")["close"]) == [1, 2]
    assert feed.advance() == idx_a[2]
    assert list(feed.history("B")["close"]) == [1, 2]  # nothing new for B, and never a future bar
    # a new process (new feed object) continues from the stored cursor
    again = ReplayFeed(Store(sqlite_url), frames.__getitem__, ["A", "B"], start_at=2, bars_per_tick=2)
    assert again.cursor == idx_a[2]
    assert again.advance() == idx_a[4]
    assert again.history("A").index[-1] == idx_a[4]
    assert again.advance() == idx_a[5] and again.exhausted
    assert again.advance() == idx_a[5]
