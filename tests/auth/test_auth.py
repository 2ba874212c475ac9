"""core.auth and the sign-in services: exposure, argon2 hashes, back-off (persisted), idle timeout, the CLI."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2.low_level import Type, hash_secret_raw

from core import services
from core.auth import (
    PasswordError,
    backoff_seconds,
    check_new_password,
    check_user_name,
    hash_password,
    is_loopback,
    login_required,
    session_expired,
    verify_password,
)
from core.config import load_settings
from core.services import Context

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True), ("LOCALHOST", True),
    ("::ffff:127.0.0.1", True),
    ("0.0.0.0", False), ("::", False), ("", False), (None, False), ("192.168.1.20", False), ("10.0.0.5", False),
    ("fe80::1%eth0", False), ("myhost.example", False),
])
def test_loopback_addresses_are_recognised_and_everything_else_needs_a_login(address, loopback):
    assert is_loopback(address) is loopback
    assert login_required(address) is (not loopback)
    assert login_required(address, required=True) is True


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def test_hash_is_salted_argon2id_and_matches_an_independent_recomputation():
    h1, h2 = hash_password(PASSWORD), hash_password(PASSWORD)
    assert h1 != h2 and PASSWORD not in h1  # a random salt per hash, never the password
    # $argon2id$v=19$m=...,t=...,p=...$salt$hash: recompute with the low-level primitive from the parsed parameters
    _, kind, version, params, salt, digest = h1.split("$")
    assert kind == "argon2id" and version == "v=19"
    p = dict(kv.split("=") for kv in params.split(","))
    raw = hash_secret_raw(PASSWORD.encode(), _b64(salt), time_cost=int(p["t"]), memory_cost=int(p["m"]), parallelism=int(p["p"]),
                          hash_len=len(_b64(digest)), type=Type.ID, version=19)
    assert raw == _b64(digest)
    assert verify_password(h1, PASSWORD) and verify_password(h2, PASSWORD)
    assert not verify_password(h1, PASSWORD + "!") and not verify_password(h1, "")
    assert not verify_password("not-a-hash", PASSWORD) and not verify_password("", PASSWORD)


def test_new_passwords_and_user_names_are_validated():
    with pytest.raises(PasswordError, match="at least 10"):
        check_new_password("short")
    with pytest.raises(PasswordError, match="white space"):
        check_new_password(PASSWORD + "\n")
    assert check_new_password(PASSWORD) == PASSWORD
    assert check_user_name("alice@example.com") == "alice@example.com"
    for bad in ("", " alice", "a b", "x" * 65, "-lead"):
        with pytest.raises(PasswordError):
            check_user_name(bad)


def test_backoff_schedule_doubles_after_the_free_attempts_up_to_the_cap():
    # hand-computed: free_attempts=3, base=1 s, cap=900 s
    expected = [0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    assert [backoff_seconds(n, 3, 1.0, 900.0) for n in range(1, 15)] == expected
    assert backoff_seconds(1, 1, 2.5, 10.0) == 2.5 and backoff_seconds(10_000, 1, 2.5, 10.0) == 10.0
    assert backoff_seconds(0, 3) == 0.0


def test_session_timeout_is_idle_minutes_with_the_boundary_still_valid():
    t0 = datetime(2024, 1, 2, tzinfo=UTC)
    assert not session_expired(t0, t0 + timedelta(minutes=30), 30)
    assert session_expired(t0, t0 + timedelta(minutes=30, seconds=1), 30)
    assert session_expired(None, t0, 30)


def test_login_backs_off_after_repeated_failures_and_a_restart_does_not_reset_it(ctx, clock, tmp_path):
    cfg = ctx.settings.auth
    assert (cfg.free_attempts, cfg.backoff_seconds, cfg.backoff_max_seconds) == (3, 1.0, 900.0)
    assert services.login(PASSWORD, "1.2.3.4", ctx).ok is False  # no password set yet
    services.set_password(PASSWORD, user="alice", ctx=ctx)
    waits = []
    for _ in range(4):
        r = services.login("wrong password!", "1.2.3.4", ctx)
        assert not r.ok and r.user is None
        waits.append(r.wait_seconds)
        clock.advance(timedelta(seconds=r.wait_seconds))
    assert waits == [0.0, 0.0, 1.0, 2.0]
    # the 5th failure: 4 s; during the wait even the right password is refused without being checked
    assert services.login("wrong password!", "1.2.3.4", ctx).wait_seconds == 4.0
    clock.advance(timedelta(seconds=3))
    locked = services.login(PASSWORD, "1.2.3.4", ctx)
    assert not locked.ok and locked.wait_seconds == pytest.approx(1.0) and "wait" in locked.message
    assert services.login_wait("1.2.3.4", ctx) == pytest.approx(1.0)
    assert services.login_wait("5.6.7.8", ctx) == 0.0  # per client address
    # "restart": a new context on the same database keeps the back-off
    restarted = Context.create(load_settings(config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": ctx.settings.store.database_url},
                                             log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False}), clock=clock)
    assert services.login(PASSWORD, "1.2.3.4", restarted).ok is False
    clock.advance(timedelta(seconds=1))
    ok = services.login(PASSWORD, "1.2.3.4", restarted)
    assert ok.ok and ok.user == "alice" and ok.failures == 0
    assert services.login_wait("1.2.3.4", restarted) == 0.0  # success forgets the failures
    log = ctx.store.audit_log(kind="auth")
    assert log[0].actor == "alice" and "signed in" in log[0].message
    assert sum("wrong password" in r.message for r in log) == 5
    stored = ctx.store.get_setting("auth.password")["hash"]
    text = json.dumps([{"m": r.message, "d": r.data, "a": r.actor} for r in log])
    assert PASSWORD not in text and stored not in text and "wrong password!" not in text


def test_failures_are_forgotten_after_a_day(ctx, clock):
    services.set_password(PASSWORD, ctx=ctx)
    for _ in range(6):
        clock.advance(timedelta(seconds=services.login("nope nope nope", "9.9.9.9", ctx).wait_seconds))
    assert services.login("nope nope nope", "9.9.9.9", ctx).failures == 7  # 0, 0, 1, 2, 4, 8 s waited: all counted
    clock.advance(timedelta(hours=24, seconds=1))
    assert services.login("nope nope nope", "9.9.9.9", ctx).failures == 1


def test_parallel_wrong_attempts_are_counted_one_by_one(ctx):
    """Twelve attempts at once from one client: the back-off (0, 0, then 1 s) lets exactly three be checked.

    Before attempts were serialised all twelve were checked and the stored count ended at 1-2 (lost updates).
    """
    import threading

    services.set_password(PASSWORD, user="alice", ctx=ctx)
    n, results = 12, []
    start = threading.Barrier(n)

    def attempt() -> None:
        start.wait()
        results.append(services.login("wrong password!", "198.51.100.9", ctx))

    threads = [threading.Thread(target=attempt) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    checked = sorted(r.failures for r in results if r.message.startswith("Wrong password"))
    assert checked == [1, 2, 3]  # the clock stands still: after the 3rd failure every attempt is inside its 1 s wait
    assert sum(r.message.startswith("Too many wrong passwords") for r in results) == n - 3
    assert ctx.store.get_setting("auth.failures.198.51.100.9")["count"] == 3
    log = [r.message for r in ctx.store.audit_log(kind="auth")]
    assert sum("wrong password from" in m for m in log) == 3 and sum("refused during back-off" in m for m in log) == n - 3


@pytest.mark.parametrize(("address", "key"), [
    ("203.0.113.7", "203.0.113.7"), ("::ffff:203.0.113.7", "203.0.113.7"), ("local", "local"), ("", "unknown"),
    ("2001:db8:aa:bb:1:2:3:4", "2001:db8:aa:bb::/64"), ("2001:db8:aa:bb::ffff", "2001:db8:aa:bb::/64"), ("[2001:db8:aa:bc::1]", "2001:db8:aa:bc::/64"),
])
def test_client_key_is_the_ipv4_address_or_the_ipv6_slash_64(address, key):
    from core.auth import client_key

    assert client_key(address) == key


def test_an_ipv6_host_cannot_dodge_the_back_off_by_changing_address(ctx):
    services.set_password(PASSWORD, ctx=ctx)
    for host in ("1", "2", "3"):  # three addresses of one /64: the 3rd failure starts the 1 s wait for all of them
        assert services.login("nope nope nope", f"2001:db8:0:7::{host}", ctx).message.startswith("Wrong password")
    refused = services.login(PASSWORD, "2001:db8:0:7:dead:beef:0:1", ctx)
    assert not refused.ok and refused.failures == 3 and services.login_wait("2001:db8:0:7::99", ctx) == pytest.approx(1.0)
    assert services.login_wait("2001:db8:0:8::1", ctx) == 0.0  # the next /64 is another client
    assert services.reset_login_attempts("2001:db8:0:7::5", ctx=ctx) == 1 and services.login_wait("2001:db8:0:7::1", ctx) == 0.0


def test_reset_attempts_and_remove_password(ctx):
    services.set_password(PASSWORD, ctx=ctx)
    for client in ("a", "b"):
        for _ in range(3):
            services.login("nope nope nope", client, ctx)
    assert services.reset_login_attempts("a", ctx=ctx) == 1 and services.login_wait("a", ctx) == 0.0 and services.login_wait("b", ctx) > 0
    assert services.reset_login_attempts(ctx=ctx) == 1
    assert services.remove_password(ctx=ctx) is True and services.auth_status(ctx)["password_set"] is False
    assert services.remove_password(ctx=ctx) is False


def test_idle_expiry_uses_the_configured_minutes(ctx, clock):
    seen = clock.now()
    clock.advance(timedelta(minutes=ctx.settings.auth.session_minutes))
    assert not services.auth_session_expired(seen, ctx)
    clock.advance(timedelta(seconds=1))
    assert services.auth_session_expired(seen, ctx)


def test_a_provider_identity_is_reusable_only_within_the_session_timeout(ctx):
    now = 1_704_153_600  # the clock fixture, 2024-01-02 00:00 UTC
    limit = int(ctx.settings.auth.session_minutes * 60)  # 3,600 s
    assert not services.identity_too_old(now - limit, ctx)  # exactly 60 minutes: still valid, as for the idle timeout
    assert services.identity_too_old(now - limit - 1, ctx)
    assert not services.identity_too_old(float(now), ctx)
    assert all(services.identity_too_old(v, ctx) for v in (None, "1704153600", True))  # undated: refused


def _cli(tmp_path, *args, stdin=None):
    env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "APP__LOG__DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "core", "auth", *args], cwd=ROOT, capture_output=True, text=True, env=env, input=stdin, timeout=120)


def test_cli_sets_a_password_from_stdin_and_stores_only_its_hash(tmp_path):
    r = _cli(tmp_path, "set-password", "--user", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    assert "alice" in r.stdout and PASSWORD not in r.stdout + r.stderr
    st = json.loads(_cli(tmp_path, "status", "--json").stdout)
    assert st["password_set"] and st["user"] == "alice" and "hash" not in st
    raw = (tmp_path / "cli.db").read_bytes()
    assert PASSWORD.encode() not in raw and b"$argon2id$" in raw
    bad = _cli(tmp_path, "set-password", "--password-stdin", stdin="short\n")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: the password must have at least 10 characters; nothing was changed"
    no_tty = _cli(tmp_path, "set-password", stdin="")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    assert json.loads(_cli(tmp_path, "remove-password", "--json").stdout) == {"removed": True}


def test_delete_settings_removes_only_the_prefix(db_url):
    from core.store import Store

    store = Store(db_url)
    for key in ("auth.failures.1.2.3.4", "auth.failures.5_6", "auth.failuresX", "auth.password", "paper.enabled"):
        store.set_setting(key, {"k": key})
    assert store.delete_settings("auth.failures.") == 2  # "_" and "." are literal, not wildcards
    assert store.get_setting("auth.failuresX") == {"k": "auth.failuresX"} and store.get_setting("auth.password") is not None
    assert store.delete_settings("auth.password") == 1 and store.get_setting("auth.password") is None
    with pytest.raises(ValueError):
        store.delete_settings("")
