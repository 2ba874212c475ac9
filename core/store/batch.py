"""Buffered writes of one store transaction, sent as one bulk statement per table and kind.

Inside ``with store.transaction():`` the hot writers (orders and their events, fills,
trades, equity points, positions, settings, the audit log, signals) do not go through
the ORM one row at a time: each call queues plain row dicts here, and
:meth:`WriteBatch.run` sends them when the transaction commits (or earlier, when a
read needs them) as one ``executemany`` per table and kind. Rows of one table keep
the order they were queued in (autoincrement ids, a delete before its inserts);
tables are independent (no foreign keys), so they are written one after the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_INSERT, _UPSERT, _DELETE = "insert", "upsert", "delete"
_MISSING = object()


class _Segment:
    """Consecutive writes of one kind to one table: rows to insert, rows to upsert (by key), or one delete."""

    __slots__ = ("kind", "rows", "where")

    def __init__(self, kind: str, where: Mapping[str, Any] | None = None) -> None:
        self.kind = kind
        self.rows: list[dict[str, Any]] | dict[tuple, dict[str, Any]] = {} if kind == _UPSERT else []
        self.where = dict(where or {})


class WriteBatch:
    """Writes queued by one transaction, per table in first-touched order."""

    def __init__(self) -> None:
        self._tables: dict[Any, list[_Segment]] = {}

    def __bool__(self) -> bool:
        return bool(self._tables)

    def _segment(self, model: Any, kind: str) -> _Segment:
        segments = self._tables.setdefault(model, [])
        if not segments or segments[-1].kind != kind or kind == _DELETE:
            segments.append(_Segment(kind))
        return segments[-1]

    def insert(self, model: Any, rows: Iterable[Mapping[str, Any]]) -> None:
        """Queue new rows of ``model`` (autoincrement keys are left to the database)."""
        self._segment(model, _INSERT).rows.extend(dict(r) for r in rows)  # type: ignore[union-attr]

    def upsert(self, model: Any, rows: Iterable[Mapping[str, Any]]) -> None:
        """Queue rows of ``model`` to insert or, when their primary key exists, to update (the last one per key wins)."""
        keys = _primary_key(model)
        segment = self._segment(model, _UPSERT)
        for row in rows:
            segment.rows[tuple(row[k] for k in keys)] = dict(row)  # type: ignore[call-overload]

    def delete(self, model: Any, **equals: Any) -> None:
        """Queue ``DELETE FROM model WHERE column = value AND ...``."""
        segments = self._tables.setdefault(model, [])
        segments.append(_Segment(_DELETE, equals))

    def pending(self, model: Any, key: tuple) -> Any:
        """Return the queued row of ``model`` with primary key ``key``; ``None`` if none is queued.

        Raises :class:`LookupError` when a queued delete of that table makes the answer
        depend on the database (flush, then read).
        """
        for segment in reversed(self._tables.get(model, ())):
            if segment.kind == _DELETE:
                raise LookupError(model)
            if segment.kind == _UPSERT:
                row = segment.rows.get(key, _MISSING)  # type: ignore[union-attr]
                if row is not _MISSING:
                    return row
        return None

    def run(self, conn: Connection) -> list[tuple[Any, list[tuple] | None]]:
        """Send every queued write on ``conn`` and empty the batch.

        Returns, per table written, the primary keys upserted (``None`` after a delete:
        any row of that table may have changed), so a session can expire what it holds.
        """
        touched: list[tuple[Any, list[tuple] | None]] = []
        tables, self._tables = self._tables, {}
        for model, segments in tables.items():
            table = model.__table__
            keys: list[tuple] | None = []
            for segment in segments:
                if segment.kind == _DELETE:
                    conn.execute(sa.delete(table).where(*(table.c[k] == v for k, v in segment.where.items())))
                    keys = None
                elif segment.kind == _INSERT:
                    _execute_many(conn, sa.insert(table), segment.rows)  # type: ignore[arg-type]
                else:
                    rows = list(segment.rows.values())  # type: ignore[union-attr]
                    _execute_many(conn, None, rows, upsert=table)
                    if keys is not None:
                        keys.extend(segment.rows)  # type: ignore[arg-type]
            touched.append((model, keys))
        return touched


def _primary_key(model: Any) -> tuple[str, ...]:
    return tuple(c.name for c in model.__table__.primary_key.columns)


def _execute_many(conn: Connection, statement: Any, rows: list[dict[str, Any]], upsert: sa.Table | None = None) -> None:
    """Execute ``statement`` once per group of rows with the same columns (an executemany needs one shape)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for columns, group in groups.items():
        stmt = statement if upsert is None else upsert_statement(upsert, columns, conn.dialect.name)
        conn.execute(stmt, group)


@lru_cache(maxsize=256)
def upsert_statement(table: sa.Table, columns: tuple[str, ...], dialect: str) -> Any:
    """Return ``INSERT ... ON CONFLICT (primary key) DO UPDATE`` of ``columns`` for SQLite or PostgreSQL."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        raise NotImplementedError(f"bulk upsert on {dialect}: the store supports SQLite and PostgreSQL")
    stmt = insert(table)
    keys = [c.name for c in table.primary_key.columns]
    update = {c: stmt.excluded[c] for c in columns if c not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=update) if update else stmt.on_conflict_do_nothing(index_elements=keys)
