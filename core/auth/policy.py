"""Timing rules: the back-off after wrong passwords and the idle session timeout."""

from __future__ import annotations

from datetime import datetime, timedelta

FAILURE_MEMORY = timedelta(hours=24)  # wrong passwords older than this are forgotten


def backoff_seconds(failures: int, free_attempts: int = 3, base: float = 1.0, cap: float = 900.0) -> float:
    """Return how long a client must wait after its ``failures``-th consecutive wrong password.

    The first ``free_attempts - 1`` failures cost nothing; failure number
    ``free_attempts`` waits ``base`` seconds and each further one doubles the
    wait, up to ``cap``: with the defaults 0, 0, 1, 2, 4, 8 ... 900 s.

    Examples
    --------
    >>> [backoff_seconds(n, free_attempts=3, base=1.0, cap=10.0) for n in range(1, 8)]
    [0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 10.0]
    """
    if failures < free_attempts:
        return 0.0
    exponent = min(failures - free_attempts, 64)  # 2**64 * base is past any cap
    return float(min(cap, base * 2.0**exponent))


def session_expired(last_seen: datetime | None, now: datetime, minutes: float) -> bool:
    """Return True when a session last used at ``last_seen`` has been idle for more than ``minutes`` at ``now``."""
    if last_seen is None:
        return True
    return now - last_seen > timedelta(minutes=minutes)
