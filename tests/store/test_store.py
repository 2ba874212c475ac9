"""Store tests: each runs on SQLite and on PostgreSQL (TEST_POSTGRES_URL)."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlmodel import select

from core.clock import FixedClock
from core.store import Store, dispose_all, migrate
from core.store.tables import OrderRow

T0 = datetime(2024, 1, 2, tzinfo=UTC)


def _bars(n=5, start="2024-01-01"):
    idx = pd.date_range(start, periods=n, freq="D", tz="UTC", name="ts")
    close = pd.Series(range(100, 100 + n), index=idx, dtype=float)
    return pd.DataFrame({"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1000.0})


def test_migration_creates_every_table_and_is_idempotent(db_url):
    migrate(db_url)
    migrate(db_url)  # a second upgrade is a no-op
    engine = sa.create_engine(db_url)
    names = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    expected = {"bars", "orders", "order_events", "fills", "positions", "accounts", "trades", "signals",
                "equity_snapshots", "model_runs", "news_items", "settings", "audit_log", "leases", "alembic_version"}
    assert expected <= names


def test_settings_roundtrip_and_survive_reopen(db_url):
    store = Store(db_url, clock=FixedClock(T0))
    assert store.get_setting("paper.enabled", False) is False
    store.set_setting("paper.enabled", True)
    store.set_setting("risk.limits", {"max_position_pct": 0.05})
    dispose_all()
    again = Store(db_url)
    assert again.get_setting("paper.enabled") is True
    assert again.get_setting("risk.limits") == {"max_position_pct": 0.05}


def test_timestamps_come_back_utc_aware(db_url):
    store = Store(db_url, clock=FixedClock(T0))
    store.audit("risk", "vetoed", {"reason": "max position"})
    row = store.audit_log()[0]
    assert row.ts == T0 and row.ts.tzinfo is not None
    assert row.data == {"reason": "max position"}


def test_naive_datetime_is_refused(db_url):
    store = Store(db_url)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        store.audit("x", "y", ts=datetime(2024, 1, 1))


def test_order_client_id_is_unique(db_url):
    store = Store(db_url)
    row = dict(client_order_id="abc", symbol="AAPL", side="buy", order_type="market", quantity=1, status="new", created_at=T0, updated_at=T0)
    with store.session() as s:
        s.add(OrderRow(**row))
    with pytest.raises(sa.exc.IntegrityError), store.session() as s:
        s.add(OrderRow(**row))
    with store.session() as s:
        assert len(list(s.exec(select(OrderRow)))) == 1


def test_bar_cache_roundtrip(db_url):
    store = Store(db_url, clock=FixedClock(T0))
    frame = _bars()
    start, end = frame.index[0].to_pydatetime(), frame.index[-1].to_pydatetime()
    assert not store.cached_range("AAPL", "1d", "test", start, end)
    assert store.save_bars(frame, "AAPL", "1d", "test", start, end) == 5
    assert store.cached_range("AAPL", "1d", "test", start + timedelta(days=1), end)
    assert not store.cached_range("AAPL", "1d", "test", start, end + timedelta(days=1))
    back = store.load_bars("AAPL", "1d", "test")
    pd.testing.assert_frame_equal(back, frame, check_freq=False)
    # saving an overlapping range replaces rows rather than duplicating them
    store.save_bars(frame.iloc[2:], "AAPL", "1d", "test", frame.index[2].to_pydatetime(), end)
    assert len(store.load_bars("AAPL", "1d", "test")) == 5


def test_upgrade_keeps_existing_data(db_url):
    """An older database (migrated to base then head again) keeps rows written before."""
    store = Store(db_url, clock=FixedClock(T0))
    store.set_setting("keep.me", 42)
    dispose_all()
    migrate(db_url)
    assert Store(db_url).get_setting("keep.me") == 42


def test_sqlite_uses_wal(sqlite_url):
    store = Store(sqlite_url)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_transaction_is_all_or_nothing(db_url):
    store = Store(db_url, clock=FixedClock(T0))
    store.set_setting("a", 1)
    with pytest.raises(RuntimeError), store.transaction():
        store.set_setting("a", 2)
        store.audit("x", "inside")
        assert store.get_setting("a") == 2  # visible inside the transaction
        raise RuntimeError("crash mid-unit")
    assert store.get_setting("a") == 1
    assert store.audit_log(kind="x") == []
    with store.transaction():
        store.set_setting("a", 3)
        with store.transaction():  # nested joins the outer one
            store.audit("x", "nested")
    assert store.get_setting("a") == 3 and len(store.audit_log(kind="x")) == 1
