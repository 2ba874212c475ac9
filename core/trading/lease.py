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
    """Return an identifier unique to this process: ``hostname:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def holder_is_dead(holder: str) -> bool:
    """Return True when ``holder`` names a process on this machine that no longer runs.

    A server restarted on the same machine thus takes over the lease its previous
    run left behind at once instead of waiting for it to expire. A holder on another
    machine, or a process that still runs (even one we may not signal), is alive.
    """
    name, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if name != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. PermissionError: the process exists
        return False
    return False


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
            exists = conn.execute(sa.select(table.c.holder).where(table.c.name == self.name)).first()
            if exists:
                if not holder_is_dead(exists.holder):
                    return False
                # our own machine's previous run died holding it: take it over, unless someone else just did
                return conn.execute(
                    sa.update(table).where(table.c.name == self.name, table.c.holder == exists.holder)
                    .values(holder=self.holder, expires_at=expires, acquired_at=now)
                ).rowcount == 1
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
