"""Storage of sweeps and their trials (tables in :mod:`core.store.research_tables`).

Trials are inserted with "on conflict do nothing" on ``(sweep_id, trial_key)``, so a
result that arrives twice (a Dask task rerun after its worker died) is stored once.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import sqlalchemy as sa
from sqlmodel import select

from core.store import Store
from core.store.research_tables import SweepRow, SweepTrialRow


def _insert(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def ensure_sweep(store: Store, sweep_id: str, strategy: str, symbols: list[str], spec: dict[str, Any], kind: str = "sweep") -> SweepRow:
    """Return the sweep ``sweep_id``, creating it when new (an existing one is marked running again: a resume)."""
    now = store.clock.now()
    with store.session() as s:
        row = s.get(SweepRow, sweep_id)
        if row is None:
            row = SweepRow(id=sweep_id, created=now, updated=now, kind=kind, strategy=strategy, symbols=",".join(symbols), spec=spec)
        row.status, row.updated = "running", now
        s.add(row)
        return row


def finished_keys(store: Store, sweep_id: str) -> set[str]:
    """Return the keys of the trials of ``sweep_id`` already stored."""
    with store.session() as s:
        return set(s.exec(select(SweepTrialRow.trial_key).where(SweepTrialRow.sweep_id == sweep_id)))


def _json(value: Any) -> str:
    """Encode a record's JSON column with orjson (a tenth of ``json.dumps``' time on a trial's weekly equity).

    orjson writes NaN as null (trial metrics are already None where not finite); what it
    refuses (e.g. non-string keys) goes through the standard encoder.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except TypeError:
        return json.dumps(value, default=str)


_JSON_COLUMNS = ("params", "metrics", "equity")


def save_trials(store: Store, sweep_id: str, records: list[dict[str, Any]]) -> int:
    """Store finished trial records of ``sweep_id`` (a key stored before is skipped); return the rows offered.

    The JSON columns are encoded here and bound as text (SQLite stores JSON as text; PostgreSQL
    casts the untyped literal to ``json``); they read back through the column's JSON type.
    """
    if not records:
        return 0
    now = store.clock.now()
    rows = [{"sweep_id": sweep_id, "trial_key": r["key"], "symbol": r["symbol"], "params": _json(r["params"]),
             "metrics": _json(r.get("metrics") or {"error": r.get("error")}), "equity": _json(r.get("equity") or {}), "finished": now}
            for r in records]
    insert = _insert(store.engine.dialect.name)
    table = SweepTrialRow.__table__
    stmt = insert(table).values({c: sa.bindparam(c, type_=sa.Text) if c in _JSON_COLUMNS else sa.bindparam(c, type_=table.c[c].type)
                                 for c in ("sweep_id", "trial_key", "symbol", *_JSON_COLUMNS, "finished")})
    stmt = stmt.on_conflict_do_nothing(index_elements=["sweep_id", "trial_key"])
    with store.session() as s:
        # One statement with the rows as parameters (executemany): compiled once, not one VALUES clause per row.
        s.connection().execute(stmt, rows)
    return len(rows)


def load_trials(store: Store, sweep_id: str, upto: int | None = None) -> list[SweepTrialRow]:
    """Return every stored trial of ``sweep_id`` in insertion order (only rows up to id ``upto`` when given)."""
    query = select(SweepTrialRow).where(SweepTrialRow.sweep_id == sweep_id)
    if upto is not None:
        query = query.where(SweepTrialRow.id <= upto)
    with store.session() as s:
        return list(s.exec(query.order_by(SweepTrialRow.id)))


def finished(store: Store, sweep_id: str) -> tuple[set[str], int]:
    """Return the keys of the trials of ``sweep_id`` already stored and the highest row id among them (0: none)."""
    with store.session() as s:
        rows = list(s.exec(select(SweepTrialRow.trial_key, SweepTrialRow.id).where(SweepTrialRow.sweep_id == sweep_id)))
    return {k for k, _ in rows}, max((i for _, i in rows), default=0)


def finish_sweep(store: Store, sweep_id: str, summary: dict[str, Any], status: str = "done") -> None:
    """Record the summary (best trial, DSR, PBO) and status of ``sweep_id``."""
    with store.session() as s:
        row = s.get(SweepRow, sweep_id)
        if row is None:
            raise KeyError(f"no sweep {sweep_id}")
        row.summary, row.status, row.updated = summary, status, store.clock.now()
        s.add(row)


def set_status(store: Store, sweep_id: str, status: str) -> None:
    """Set the status of ``sweep_id`` (e.g. ``interrupted`` when a run stopped early)."""
    with store.session() as s:
        row = s.get(SweepRow, sweep_id)
        if row is not None:
            row.status, row.updated = status, store.clock.now()
            s.add(row)


def get_sweep(store: Store, sweep_id: str) -> SweepRow | None:
    """Return the sweep ``sweep_id`` (``None`` when unknown)."""
    with store.session() as s:
        return s.get(SweepRow, sweep_id)


def list_sweeps(store: Store, limit: int = 50) -> list[SweepRow]:
    """Return the newest sweeps first."""
    with store.session() as s:
        return list(s.exec(select(SweepRow).order_by(sa.desc(SweepRow.updated)).limit(limit)))
