"""Repositories over the tables: the only place that writes SQL for core."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, SQLModel, select

from core.clock import Clock, SystemClock
from core.store.batch import WriteBatch
from core.store.db import get_engine
from core.store.tables import AuditLogRow, BarRangeRow, BarRow, SettingRow

BAR_COLUMNS = ["open", "high", "low", "close", "volume"]


_active: ContextVar[dict[str, _Unit] | None] = ContextVar("store_active_units", default=None)


class _Unit:
    """One open transaction: its session and the writes queued for it."""

    __slots__ = ("batch", "session")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.batch = WriteBatch()


class Store:
    """Access to the database at ``url`` (created and migrated on first use).

    :meth:`session` is re-entrant: inside ``with store.transaction():`` every
    repository call of this thread joins one database transaction, so a unit of
    work (e.g. everything one bar of the trading loop changes) is stored whole
    or not at all. Inside a transaction the bulk writers (:meth:`insert`,
    :meth:`upsert`, :meth:`delete_where`, and the settings and audit writers built
    on them) queue their rows and send them at commit as one statement per table
    and kind (:mod:`core.store.batch`); reads see the queued writes.
    """

    def __init__(self, url: str, clock: Clock | None = None) -> None:
        self.url = url
        self.engine = get_engine(url)
        self.clock = clock or SystemClock()
        self._key = self.engine.url.render_as_string(hide_password=False)

    def _unit(self) -> _Unit | None:
        active = _active.get()
        return None if active is None else active.get(self._key)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session that commits on success and rolls back on error (or the enclosing transaction's)."""
        unit = self._unit()
        if unit is not None:
            self._send(unit)  # the block may read: it must see the writes queued so far
            yield unit.session
            unit.session.flush()
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
        unit = self._unit()
        if unit is not None:
            yield unit.session
            return
        with Session(self.engine, expire_on_commit=False) as session:
            unit = _Unit(session)
            token = _active.set({**(_active.get() or {}), self._key: unit})
            try:
                yield session
                self._send(unit)
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                _active.reset(token)

    def commit(self) -> None:
        """Inside :meth:`transaction`: make everything written so far durable now; the block goes on in a new transaction.

        Outside a transaction every write is committed at once, so this does nothing.
        """
        unit = self._unit()
        if unit is not None:
            self._send(unit)
            unit.session.commit()

    def flush(self) -> None:
        """Inside :meth:`transaction`: send the queued writes now (still uncommitted; on SQLite this takes the write lock)."""
        unit = self._unit()
        if unit is not None:
            self._send(unit)

    @staticmethod
    def _send(unit: _Unit) -> None:
        if not unit.batch:
            return
        session = unit.session
        touched = unit.batch.run(session.connection())
        if not session.identity_map:
            return
        for model, keys in touched:  # rows the session holds may be stale now: reload them on next access
            if keys is None:
                for obj in [o for o in session.identity_map.values() if isinstance(o, model)]:
                    session.expire(obj)
                continue
            for key in keys:
                obj = session.identity_map.get(identity_key(model, key))
                if obj is not None:
                    session.expire(obj)

    # -- bulk writers ------------------------------------------------------------------
    def _write(self, fill: Callable[[WriteBatch], None]) -> None:
        unit = self._unit()
        if unit is not None:
            fill(unit.batch)
            return
        batch = WriteBatch()
        fill(batch)
        with self.engine.begin() as conn:
            batch.run(conn)

    def insert(self, model: type[SQLModel], rows: Iterable[Mapping[str, Any]]) -> None:
        """Insert ``rows`` (column dicts) into ``model``'s table: queued inside a transaction, else written at once."""
        rows = list(rows)
        if rows:
            self._write(lambda batch: batch.insert(model, rows))

    def upsert(self, model: type[SQLModel], rows: Iterable[Mapping[str, Any]]) -> None:
        """Insert ``rows`` or update the stored ones with the same primary key (the given columns only)."""
        rows = list(rows)
        if rows:
            self._write(lambda batch: batch.upsert(model, rows))

    def delete_where(self, model: type[SQLModel], **equals: Any) -> None:
        """Delete the rows of ``model`` whose columns equal ``equals`` (queued inside a transaction, in order with its writes)."""
        if not equals:
            raise ValueError("delete_where needs at least one column = value condition")
        self._write(lambda batch: batch.delete(model, **equals))

    def get_row(self, model: type[SQLModel], key: tuple) -> Mapping[str, Any] | None:
        """Return the columns of ``model``'s row with primary key ``key`` (None if there is none).

        Inside a transaction a row queued by it is returned without sending the queue (a
        primary-key read depends on no other queued row), so reading does not cost a flush.
        """
        table = model.__table__
        query = sa.select(table).where(*(c == v for c, v in zip(table.primary_key.columns, key, strict=True)))
        unit = self._unit()
        if unit is None:
            with self.engine.connect() as conn:
                row = conn.execute(query).mappings().first()
            return row
        try:
            queued = unit.batch.pending(model, key)
        except LookupError:  # a queued delete of that table: let the database answer
            self._send(unit)
            queued = None
        if queued is not None:
            return queued
        return unit.session.connection().execute(query).mappings().first()

    # -- settings and toggles -------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        """Return the stored value of ``key`` or ``default``."""
        row = self.get_row(SettingRow, (key,))
        return default if row is None else row["value"]

    def set_setting(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``key``."""
        self.upsert(SettingRow, [{"key": key, "value": value, "updated_at": self.clock.now()}])

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
        self.insert(AuditLogRow, [{"ts": ts or self.clock.now(), "kind": kind, "actor": actor, "message": message, "data": data or {}}])

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
