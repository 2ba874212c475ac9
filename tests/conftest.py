"""Shared fixtures: temporary databases (SQLite always, PostgreSQL when configured), a core context."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.clock import FixedClock
from core.config import load_settings
from core.services import Context, set_context
from core.store import dispose_all

ROOT = Path(__file__).resolve().parent.parent

# CI runs property tests with a fixed seed so a landing never depends on luck; locally they explore.
from hypothesis import settings as _hyp_settings  # noqa: E402

_hyp_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    _hyp_settings.load_profile("ci")
# The local fake venues are imported as ``fakes.*`` (a package installed in the venv is named
# ``tests``, so ``tests.fakes`` would be ambiguous outside pytest's rootdir handling).
sys.path.insert(0, str(Path(__file__).resolve().parent))
PG_ENV = "TEST_POSTGRES_URL"


def _postgres_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """Return an admin URL for the PostgreSQL server, or skip when none is configured.

    When ``TEST_POSTGRES_URL`` is set but the server is unreachable the test fails:
    CI must never silently skip the PostgreSQL half of the store tests.
    """
    url = _postgres_admin_url()
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg2://postgres@127.0.0.1:5432/postgres)")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"{PG_ENV} is set but PostgreSQL is unreachable: {exc.orig}")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """Create a fresh database on the server for one test and drop it afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        dispose_all()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """Return a fresh SQLite file database."""
    yield f"sqlite:///{tmp_path / 'test.db'}"
    dispose_all()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


@pytest.fixture
def clock() -> FixedClock:
    """A deterministic clock at 2024-01-02 00:00 UTC."""
    return FixedClock(datetime(2024, 1, 2, tzinfo=UTC))


@pytest.fixture
def ctx(sqlite_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[Context]:
    """A core context on a fresh SQLite database, installed as the process context."""
    settings = load_settings(
        config_file=None,
        env_file=str(tmp_path / "none.env"),
        store={"database_url": sqlite_url},
        log={"dir": str(tmp_path / "logs")},
        scheduler={"embedded": False},
    )
    context = Context.create(settings, clock=clock)
    set_context(context)
    yield context
    set_context(None)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep a developer's own APP__*/DATABASE_URL settings out of the tests."""
    for key in list(os.environ):
        if key.startswith("APP__") or key == "DATABASE_URL":
            monkeypatch.delenv(key, raising=False)
