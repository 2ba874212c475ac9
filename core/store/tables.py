"""sqlmodel tables. Every schema change needs an Alembic migration (see ``migrations/``).

Timestamps are stored as UTC and always come back timezone-aware
(:class:`UTCDateTime`), on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """A DateTime that refuses naive values and always returns UTC-aware ones."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store timestamps as timezone-aware UTC")
        value = value.astimezone(UTC)
        # SQLite keeps no zone: store naive UTC there.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


def _json(**kw: Any) -> Any:
    return Field(default_factory=dict, sa_type=sa.JSON, **kw)


class BarRow(SQLModel, table=True):
    __tablename__ = "bars"
    symbol: str = Field(primary_key=True, max_length=64)
    timeframe: str = Field(primary_key=True, max_length=16)
    source: str = Field(primary_key=True, max_length=32)
    ts: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    open: float
    high: float
    low: float
    close: float
    volume: float


class BarRangeRow(SQLModel, table=True):
    """Which ranges of a series are already cached, so a repeated request never refetches."""

    __tablename__ = "bar_ranges"
    id: int | None = Field(default=None, primary_key=True)
    symbol: str = Field(index=True, max_length=64)
    timeframe: str = Field(max_length=16)
    source: str = Field(max_length=32)
    start: datetime = _ts()
    end: datetime = _ts()
    fetched_at: datetime = _ts()


class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"
    client_order_id: str = Field(primary_key=True, max_length=64)
    account: str = Field(default="paper", index=True, max_length=64)
    broker_order_id: str | None = Field(default=None, index=True, max_length=128)
    symbol: str = Field(index=True, max_length=64)
    side: str = Field(max_length=8)
    order_type: str = Field(max_length=16)
    quantity: float
    limit_price: float | None = None
    stop_price: float | None = None
    trail_amount: float | None = None
    trail_percent: float | None = None
    time_in_force: str = Field(default="gtc", max_length=8)
    status: str = Field(index=True, max_length=24)
    filled_quantity: float = 0.0
    avg_fill_price: float | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    venue: str = Field(default="paper", max_length=32)
    parent_id: str | None = Field(default=None, max_length=64)
    oco_group: str | None = Field(default=None, max_length=64)
    reason: str | None = None
    tags: dict = _json()


class OrderEventRow(SQLModel, table=True):
    """Every order state transition, in the past tense (``OrderFilled``...)."""

    __tablename__ = "order_events"
    id: int | None = Field(default=None, primary_key=True)
    client_order_id: str = Field(index=True, max_length=64)
    ts: datetime = _ts()
    event: str = Field(max_length=32)
    status: str = Field(max_length=24)
    detail: dict = _json()


class FillRow(SQLModel, table=True):
    __tablename__ = "fills"
    fill_id: str = Field(primary_key=True, max_length=96)
    account: str = Field(default="paper", index=True, max_length=64)
    client_order_id: str = Field(index=True, max_length=64)
    symbol: str = Field(index=True, max_length=64)
    side: str = Field(max_length=8)
    quantity: float
    price: float
    fee: float = 0.0
    ts: datetime = _ts()
    venue: str = Field(default="paper", max_length=32)
    liquidity: str = Field(default="taker", max_length=8)


class PositionRow(SQLModel, table=True):
    __tablename__ = "positions"
    account: str = Field(primary_key=True, max_length=64)
    symbol: str = Field(primary_key=True, max_length=64)
    quantity: float
    avg_price: float
    realized_pnl: float = 0.0
    last_price: float | None = None
    updated_at: datetime = _ts()


class AccountRow(SQLModel, table=True):
    __tablename__ = "accounts"
    account: str = Field(primary_key=True, max_length=64)
    cash: float
    currency: str = Field(default="USD", max_length=8)
    fees_paid: float = 0.0
    updated_at: datetime = _ts()


class TradeRow(SQLModel, table=True):
    __tablename__ = "trades"
    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(default="paper", index=True, max_length=64)
    symbol: str = Field(index=True, max_length=64)
    side: str = Field(max_length=8)
    quantity: float
    entry_ts: datetime = _ts()
    exit_ts: datetime = _ts()
    entry_price: float
    exit_price: float
    pnl: float
    fees: float = 0.0
    mae: float | None = None
    mfe: float | None = None


class SignalRow(SQLModel, table=True):
    __tablename__ = "signals"
    id: int | None = Field(default=None, primary_key=True)
    symbol: str = Field(index=True, max_length=64)
    ts: datetime = _ts(index=True)
    p_up: float
    regime: str | None = Field(default=None, max_length=16)
    model_id: str | None = Field(default=None, max_length=64)
    direction: int = 0
    confidence: float = 0.0
    reason: str = ""


class EquitySnapshotRow(SQLModel, table=True):
    __tablename__ = "equity_snapshots"
    account: str = Field(primary_key=True, max_length=64)
    ts: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    equity: float
    cash: float
    gross_exposure: float = 0.0
    net_exposure: float = 0.0


class ModelRunRow(SQLModel, table=True):
    __tablename__ = "model_runs"
    id: str = Field(primary_key=True, max_length=64)
    created: datetime = _ts()
    kind: str = Field(default="ensemble", max_length=32)
    symbols: str
    features_hash: str = Field(max_length=64)
    data_start: datetime | None = _ts(default=None)
    data_end: datetime | None = _ts(default=None)
    params: dict = _json()
    metrics: dict = _json()
    path: str


class NewsItemRow(SQLModel, table=True):
    __tablename__ = "news_items"
    id: str = Field(primary_key=True, max_length=64)
    published: datetime = _ts(index=True)
    fetched: datetime = _ts()
    source: str = Field(max_length=128)
    title: str
    url: str | None = None
    summary: str | None = None
    symbols: str = ""
    sentiment: float | None = None
    label: str | None = Field(default=None, max_length=16)


class SettingRow(SQLModel, table=True):
    """Runtime settings and toggles changed from the UI or CLI (e.g. the paper toggle)."""

    __tablename__ = "settings"
    key: str = Field(primary_key=True, max_length=128)
    value: Any = Field(default=None, sa_type=sa.JSON)
    updated_at: datetime = _ts()


class AuditLogRow(SQLModel, table=True):
    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    ts: datetime = _ts(index=True)
    kind: str = Field(index=True, max_length=32)
    actor: str = Field(default="system", max_length=64)
    message: str
    data: dict = _json()


class LeaseRow(SQLModel, table=True):
    """Only one trading host may hold an account's lease at a time."""

    __tablename__ = "leases"
    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=128)
    acquired_at: datetime = _ts()
    expires_at: datetime = _ts()


class SessionDiffRow(SQLModel, table=True):
    """One day of the backtest-vs-live diff of a trading session (recomputed whole on every run)."""

    __tablename__ = "session_diffs"
    __table_args__ = (sa.UniqueConstraint("account", "day", name="uq_session_diffs_day"),)
    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(index=True, max_length=64)
    day: str = Field(max_length=10)
    orders_live: int = 0
    orders_backtest: int = 0
    matched: int = 0
    match_pct: float = 100.0
    pnl_live: float = 0.0
    pnl_backtest: float = 0.0
    pnl_diff: float = 0.0
    divergences: int = 0
    first_ts: str | None = Field(default=None, max_length=40)
    first_cause: str | None = Field(default=None, max_length=32)
    first_order: str | None = Field(default=None, max_length=128)
    first_detail: str | None = None
    computed_at: datetime = _ts()
