"""Engine creation and schema migration.

``DATABASE_URL`` picks SQLite (default, WAL mode) or PostgreSQL. The schema is
owned by Alembic: :func:`migrate` upgrades any older database to the current
head without touching its data.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from core.config import resolve_sqlite_url

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


class StoreError(RuntimeError):
    """The database cannot be reached or migrated; the message says what to check."""


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_path(url: str) -> Path | None:
    """Return the file of a ``sqlite:///`` URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("sqlite:///", 1)[-1].split("?", 1)[0]
    return Path(path) if path and ":memory:" not in path and "sqlite:" not in path else None


def make_engine(url: str) -> Engine:
    """Create a new engine for ``url`` (SQLite files get WAL and a busy timeout).

    A SQLite file whose directory does not exist is refused rather than created: a
    mistyped path would otherwise start an empty store and the user's state would
    seem lost.
    """
    url = resolve_sqlite_url(url)
    try:
        if url.startswith("sqlite"):
            path = _sqlite_path(url)
            if path is not None and not path.parent.is_dir():
                raise StoreError(f"database file {path}: its directory {path.parent} does not exist. Create the directory, "
                                 "or fix DATABASE_URL / store.database_url (nothing was created)")
            engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        detail = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        raise StoreError(f"cannot use database {safe_url(url)}: {type(exc).__name__}{': ' + detail if detail else ''}; use sqlite:///path/to/app.db "
                         "or postgresql+psycopg2://user@host:5432/dbname in DATABASE_URL") from None
    return engine


def alembic_config(url: str) -> Config:
    """Return an Alembic config bound to ``url`` and our migrations folder."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", resolve_sqlite_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to the newest schema (idempotent)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except sa.exc.DatabaseError as exc:  # OperationalError (cannot connect), or a file that is not a database
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        hint = ("DATABASE_URL must name the app's SQLite file (e.g. sqlite:///data/app.db) or a new one" if "not a database" in reason
                else "Check DATABASE_URL and that the server is running")
        raise StoreError(f"cannot open database {safe_url(url)}: {reason}. {hint}.") from None
    finally:
        engine.dispose()


def get_engine(url: str) -> Engine:
    """Return the process-wide engine for ``url``, migrating the schema on first use."""
    url = resolve_sqlite_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            fresh = _sqlite_path(url)
            fresh = fresh if fresh is not None and not fresh.exists() else None
            migrate(url)
            if fresh is not None:  # a mistyped path would otherwise look like lost data: say which file is used
                log.warning("store: created a new empty database %s; if you expected earlier data, check DATABASE_URL / store.database_url", fresh)
            engine = make_engine(url)
            _engines[url] = engine
        return engine


def dispose_all() -> None:
    """Close every cached engine (tests, shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def safe_url(url: str) -> str:
    """Return ``url`` with any password replaced, for messages and logs."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database url>"
