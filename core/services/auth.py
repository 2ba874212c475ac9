"""Sign-in services: the single-user password, rate-limited attempts, sign-in/out records.

Stored in the settings table: ``auth.password`` holds the user name and an
argon2id hash (never the password), ``auth.failures.<client>`` the wrong
attempts of one client (an IPv4 address or an IPv6 /64), so a restart does not
reset the back-off. Password attempts are checked one at a time in this process,
so parallel attempts cannot all slip through before the first failure is counted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.auth import (
    FAILURE_MEMORY,
    backoff_seconds,
    check_user_name,
    client_key,
    hash_password,
    login_required,
    needs_rehash,
    session_expired,
    verify_password,
)
from core.services.context import Context, get_context

PASSWORD_KEY = "auth.password"
FAILURES_PREFIX = "auth.failures."
_attempts = threading.Lock()  # one password check at a time: read the failures, verify, count the failure, as one step


@dataclass(frozen=True)
class LoginResult:
    """What one password attempt came to; ``wait_seconds`` > 0 means the next attempt must wait."""

    ok: bool
    user: str | None
    wait_seconds: float
    failures: int
    message: str


def sign_in_required(address: str | None, ctx: Context | None = None) -> bool:
    """Return True when a server bound to ``address`` must ask for a sign-in (beyond loopback, or ``auth.required``)."""
    ctx = ctx or get_context()
    return login_required(address, ctx.settings.auth.required)


def auth_status(ctx: Context | None = None) -> dict[str, Any]:
    """Return whether a password is set, for which user and since when (never the hash)."""
    ctx = ctx or get_context()
    stored = ctx.store.get_setting(PASSWORD_KEY) or {}
    return {"password_set": bool(stored.get("hash")), "user": stored.get("user"), "set_at": stored.get("set_at")}


def password_version(ctx: Context | None = None) -> str | None:
    """Return a short digest that changes whenever the password is set again (None when none is set).

    A session signed in with the password remembers it; a different value later means the password
    was changed or removed since, and the session must sign in again. The stored hash is salted, so
    setting even the same password gives a new value.
    """
    import hashlib

    ctx = ctx or get_context()
    stored = (ctx.store.get_setting(PASSWORD_KEY) or {}).get("hash")
    return hashlib.sha256(stored.encode()).hexdigest()[:16] if stored else None


def set_password(password: str, user: str = "admin", actor: str = "cli", ctx: Context | None = None) -> dict[str, Any]:
    """Store a salted hash of ``password`` for ``user`` (replacing any previous one) and audit it."""
    ctx = ctx or get_context()
    check_user_name(user)
    hashed = hash_password(password)
    ctx.store.set_setting(PASSWORD_KEY, {"user": user, "hash": hashed, "set_at": ctx.clock.now().isoformat()})
    ctx.store.audit("auth", f"password set for {user}", {"user": user}, actor=actor)
    return auth_status(ctx)


def remove_password(actor: str = "cli", ctx: Context | None = None) -> bool:
    """Remove the stored password; return True when there was one."""
    ctx = ctx or get_context()
    had = ctx.store.delete_settings(PASSWORD_KEY) > 0
    if had:
        ctx.store.audit("auth", "password removed", {}, actor=actor)
    return had


def _client_key(client: str) -> str:
    return FAILURES_PREFIX + client_key(client)[:100]


def _failures(ctx: Context, client: str, now: datetime) -> tuple[int, datetime | None]:
    state = ctx.store.get_setting(_client_key(client)) or {}
    last = datetime.fromisoformat(state["last"]) if state.get("last") else None
    if last is None or now - last > FAILURE_MEMORY:
        return 0, None
    return int(state.get("count", 0)), last


def _wait_after(ctx: Context, failures: int) -> float:
    cfg = ctx.settings.auth
    return backoff_seconds(failures, cfg.free_attempts, cfg.backoff_seconds, cfg.backoff_max_seconds)


def login_wait(client: str, ctx: Context | None = None) -> float:
    """Return the seconds ``client`` must still wait before its next password attempt (0 when it may try)."""
    ctx = ctx or get_context()
    now = ctx.clock.now()
    failures, last = _failures(ctx, client, now)
    if last is None:
        return 0.0
    return max(0.0, _wait_after(ctx, failures) - (now - last).total_seconds())


def login(password: str, client: str, ctx: Context | None = None) -> LoginResult:
    """Check one password attempt from ``client`` (an address), with back-off after repeated failures.

    An attempt made while the client must still wait is refused without
    looking at the password. Every outcome is audited (never the password).
    Attempts are serialised: without that, parallel attempts (several browser
    tabs or scripted sessions) would all read the same failure count, all be
    checked, and count as one failure.
    """
    ctx = ctx or get_context()
    with _attempts:
        return _login(password, client, ctx)


def _login(password: str, client: str, ctx: Context) -> LoginResult:
    now = ctx.clock.now()
    stored = ctx.store.get_setting(PASSWORD_KEY) or {}
    if not stored.get("hash"):
        return LoginResult(False, None, 0.0, 0, "No password is set: run `python -m core auth set-password` on the server.")
    with ctx.store.transaction():
        failures, last = _failures(ctx, client, now)
        wait = 0.0 if last is None else _wait_after(ctx, failures) - (now - last).total_seconds()
        if wait > 0:
            ctx.store.audit("auth", f"sign-in attempt refused during back-off from {client}", {"client": client, "failures": failures},
                            actor=f"anonymous@{client}"[:64])
            return LoginResult(False, None, wait, failures, f"Too many wrong passwords: wait {wait:.0f} s before trying again.")
        user = str(stored.get("user") or "admin")
        if verify_password(stored["hash"], password):
            ctx.store.delete_settings(_client_key(client))
            if needs_rehash(stored["hash"]):
                ctx.store.set_setting(PASSWORD_KEY, {**stored, "hash": hash_password(password)})
            ctx.store.audit("auth", f"{user} signed in with the password from {client}", {"client": client, "method": "password"}, actor=user)
            return LoginResult(True, user, 0.0, 0, f"Signed in as {user}.")
        failures += 1
        ctx.store.set_setting(_client_key(client), {"count": failures, "last": now.isoformat()})
        wait = _wait_after(ctx, failures)
        ctx.store.audit("auth", f"wrong password from {client} ({failures} in a row)", {"client": client, "failures": failures},
                        actor=f"anonymous@{client}"[:64])
    message = "Wrong password." + (f" Wait {wait:.0f} s before the next attempt." if wait > 0 else "")
    return LoginResult(False, None, wait, failures, message)


def reset_login_attempts(client: str | None = None, actor: str = "cli", ctx: Context | None = None) -> int:
    """Forget the wrong attempts of ``client`` (or of every client); return how many clients were reset."""
    ctx = ctx or get_context()
    n = ctx.store.delete_settings(_client_key(client) if client else FAILURES_PREFIX)
    ctx.store.audit("auth", f"sign-in back-off reset for {client or 'every client'}", {"client": client, "clients": n}, actor=actor)
    return n


def record_sign_in(user: str, method: str, client: str, ctx: Context | None = None) -> None:
    """Audit a session opened by an identity provider (OpenID Connect) login."""
    ctx = ctx or get_context()
    ctx.store.audit("auth", f"{user} signed in with {method} from {client}", {"client": client, "method": method}, actor=user[:64])


def record_sign_out(user: str, reason: str = "logged out", ctx: Context | None = None) -> None:
    """Audit the end of a signed-in session (log-out or timeout)."""
    ctx = ctx or get_context()
    ctx.store.audit("auth", f"{user} {reason}", {"reason": reason}, actor=user[:64])


def auth_session_expired(last_seen: datetime | None, ctx: Context | None = None) -> bool:
    """Return True when a session last used at ``last_seen`` is past ``auth.session_minutes`` of idleness."""
    ctx = ctx or get_context()
    return session_expired(last_seen, ctx.clock.now(), ctx.settings.auth.session_minutes)


def identity_too_old(issued_at: Any, ctx: Context | None = None) -> bool:
    """Return True when an identity provider sign-in issued at ``issued_at`` is past ``auth.session_minutes``.

    ``issued_at`` is the id token's ``iat`` claim (seconds since the epoch).
    Streamlit keeps that identity in a cookie for 30 days; a new browser session
    (a reload, another tab) may reuse it only within the session timeout. A
    token without ``iat`` (which OpenID Connect requires) cannot be dated: it is
    refused too.
    """
    ctx = ctx or get_context()
    if isinstance(issued_at, bool) or not isinstance(issued_at, int | float):
        return True
    return session_expired(datetime.fromtimestamp(float(issued_at), UTC), ctx.clock.now(), ctx.settings.auth.session_minutes)
