"""A lease row per account: only one host trades an account at a time.

Acquire and renew are single conditional statements (``UPDATE ... WHERE holder
= me OR expired``, else ``INSERT``), so two hosts racing on SQLite or
PostgreSQL can never both win.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

import sqlalchemy as sa

from core.store import Store
from core.store.tables import LeaseRow


def host_id() -> str:
    """Return an identifier unique to this process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    """A renewable, expiring lease named ``name`` held by ``holder``."""

    def __init__(self, store: Store, name: str, holder: str | None = None, ttl: timedelta = timedelta(seconds=30)) -> None:
        self.store = store
        self.name = name
        self.holder = holder or host_id()
        self.ttl = ttl

    def acquire(self) -> bool:
        """Take or renew the lease; return True when this holder has it now."""
        now = self.store.clock.now()
        expires = now + self.ttl
        table = LeaseRow.__table__
        with self.store.engine.begin() as conn:
            updated = conn.execute(
                sa.update(table)
                .where(table.c.name == self.name, sa.or_(table.c.holder == self.holder, table.c.expires_at <= now))
                .values(holder=self.holder, expires_at=expires, acquired_at=now)
            ).rowcount
            if updated == 1:
                return True
            exists = conn.execute(sa.select(table.c.name).where(table.c.name == self.name)).first()
            if exists:
                return False
        try:
            with self.store.engine.begin() as conn:
                conn.execute(sa.insert(table).values(name=self.name, holder=self.holder, acquired_at=now, expires_at=expires))
            return True
        except sa.exc.IntegrityError:  # another host inserted first
            return False

    def release(self) -> None:
        """Give the lease up if this holder has it."""
        table = LeaseRow.__table__
        with self.store.engine.begin() as conn:
            conn.execute(sa.delete(table).where(table.c.name == self.name, table.c.holder == self.holder))

    def current(self) -> LeaseRow | None:
        """Return the lease row (whoever holds it), or None."""
        with self.store.session() as s:
            return s.get(LeaseRow, self.name)
