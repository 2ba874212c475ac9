"""Repositories over the tables: the only place that writes SQL for core."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, select

from core.clock import Clock, SystemClock
from core.store.db import get_engine
from core.store.tables import AuditLogRow, BarRangeRow, BarRow, SettingRow

BAR_COLUMNS = ["open", "high", "low", "close", "volume"]


_active: ContextVar[dict[str, Session] | None] = ContextVar("store_active_sessions", default=None)


class Store:
    """Access to the database at ``url`` (created and migrated on first use).

    :meth:`session` is re-entrant: inside ``with store.transaction():`` every
    repository call of this thread joins one database transaction, so a unit of
    work (e.g. everything one bar of the trading loop changes) is stored whole
    or not at all.
    """

    def __init__(self, url: str, clock: Clock | None = None) -> None:
        self.url = url
        self.engine = get_engine(url)
        self.clock = clock or SystemClock()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session that commits on success and rolls back on error (or the enclosing transaction's)."""
        active = _active.get() or {}
        outer = active.get(self.engine.url.render_as_string(hide_password=False))
        if outer is not None:
            yield outer
            outer.flush()
            return
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Group every store write inside the block into one transaction (nesting joins the outer one)."""
        key = self.engine.url.render_as_string(hide_password=False)
        active = dict(_active.get() or {})
        if key in active:
            yield active[key]
            return
        with Session(self.engine, expire_on_commit=False) as session:
            active[key] = session
            token = _active.set(active)
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                _active.reset(token)

    # -- settings and toggles -------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        """Return the stored value of ``key`` or ``default``."""
        with self.session() as s:
            row = s.get(SettingRow, key)
            return default if row is None else row.value

    def set_setting(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``key``."""
        with self.session() as s:
            row = s.get(SettingRow, key)
            if row is None:
                s.add(SettingRow(key=key, value=value, updated_at=self.clock.now()))
            else:
                row.value = value
                row.updated_at = self.clock.now()
                s.add(row)

    def delete_settings(self, prefix: str) -> int:
        """Delete every setting whose key starts with ``prefix`` (a full key deletes one); return how many."""
        if not prefix:
            raise ValueError("delete_settings needs a non-empty key prefix")
        with self.session() as s:
            result = s.exec(sa.delete(SettingRow).where(SettingRow.key.startswith(prefix, autoescape=True)))
            return int(result.rowcount or 0)

    # -- audit log -------------------------------------------------------------
    def audit(self, kind: str, message: str, data: dict | None = None, actor: str = "system", ts: datetime | None = None) -> None:
        """Append one entry to the audit log."""
        with self.session() as s:
            s.add(AuditLogRow(ts=ts or self.clock.now(), kind=kind, actor=actor, message=message, data=data or {}))

    def audit_log(self, limit: int = 200, kind: str | None = None) -> list[AuditLogRow]:
        """Return the newest audit entries first."""
        with self.session() as s:
            q = select(AuditLogRow).order_by(AuditLogRow.id.desc()).limit(limit)
            if kind:
                q = q.where(AuditLogRow.kind == kind)
            return list(s.exec(q))

    # -- bar cache ---------------------------------------------------------------
    def cached_range(self, symbol: str, timeframe: str, source: str, start: datetime, end: datetime) -> bool:
        """Return True when [start, end] lies inside one range fetched before."""
        with self.session() as s:
            q = select(BarRangeRow).where(
                BarRangeRow.symbol == symbol,
                BarRangeRow.timeframe == timeframe,
                BarRangeRow.source == source,
                BarRangeRow.start <= start,
                BarRangeRow.end >= end,
            )
            return s.exec(q).first() is not None

    def load_bars(self, symbol: str, timeframe: str, source: str, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        """Return cached bars as a UTC-indexed OHLCV frame (possibly empty)."""
        q = select(BarRow).where(BarRow.symbol == symbol, BarRow.timeframe == timeframe, BarRow.source == source)
        if start is not None:
            q = q.where(BarRow.ts >= start)
        if end is not None:
            q = q.where(BarRow.ts <= end)
        with self.session() as s:
            rows = list(s.exec(q.order_by(BarRow.ts)))
        frame = pd.DataFrame([{c: getattr(r, c) for c in ["ts", *BAR_COLUMNS]} for r in rows], columns=["ts", *BAR_COLUMNS])
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        return frame.set_index("ts").astype(float)

    def save_bars(self, frame: pd.DataFrame, symbol: str, timeframe: str, source: str, start: datetime, end: datetime) -> int:
        """Upsert validated bars and remember that [start, end] is cached; return rows written."""
        records = [
            {"symbol": symbol, "timeframe": timeframe, "source": source, "ts": ts.to_pydatetime(), **{c: float(row[c]) for c in BAR_COLUMNS}}
            for ts, row in frame[BAR_COLUMNS].iterrows()
        ]
        with self.session() as s:
            if records:
                stamps = [r["ts"] for r in records]
                s.exec(
                    sa.delete(BarRow).where(
                        BarRow.symbol == symbol, BarRow.timeframe == timeframe, BarRow.source == source,
                        BarRow.ts >= min(stamps), BarRow.ts <= max(stamps),
                    )
                )
                s.exec(sa.insert(BarRow), params=records)
            s.add(BarRangeRow(symbol=symbol, timeframe=timeframe, source=source, start=start, end=end, fetched_at=self.clock.now()))
        return len(records)
