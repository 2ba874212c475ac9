"""``python -m core auth set-password|remove-password|reset-attempts|status``: the app's sign-in password."""

from __future__ import annotations

import argparse
import getpass
import sys

from core.cli import CliError, emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``auth`` command."""
    p = sub.add_parser("auth", help="set the password the app asks for when it is reachable beyond this machine")
    acts = p.add_subparsers(dest="action", required=True)
    s = acts.add_parser("set-password", help="store a salted hash of a new password (prompted, or read from stdin)")
    s.add_argument("--user", default="admin", help="user name shown in the audit log (default: admin)")
    s.add_argument("--password-stdin", action="store_true", help="read the password from the first line of standard input (for scripts)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_set)
    r = acts.add_parser("remove-password", help="remove the stored password (a server bound beyond loopback then shows only the set-up screen)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=_remove)
    a = acts.add_parser("reset-attempts", help="forget wrong attempts, lifting the back-off (every client, or one address)")
    a.add_argument("--client", help="client address as shown in the audit log (default: every client)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=_reset)
    t = acts.add_parser("status", help="is a password set, and for whom")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=_status)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise CliError("--password-stdin: standard input is empty")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CliError("no terminal to prompt for the password: pipe it in with --password-stdin")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise CliError("the two passwords differ; nothing was changed")
    return first


def _set(args: argparse.Namespace) -> int:
    from core import services
    from core.auth import PasswordError, check_new_password, check_user_name

    try:
        check_user_name(args.user)
        password = check_new_password(_read_password(args.password_stdin))
        status = services.set_password(password, user=args.user, actor=_actor())
    except PasswordError as exc:
        raise CliError(f"{exc}; nothing was changed") from None
    emit(status, args.json, f"password set for {status['user']} (only a salted argon2id hash is stored)")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from core import services

    had = services.remove_password(actor=_actor())
    emit({"removed": had}, args.json, "password removed" if had else "no password was set")
    return 0


def _reset(args: argparse.Namespace) -> int:
    from core import services

    n = services.reset_login_attempts(args.client, actor=_actor())
    emit({"reset": n}, args.json, f"back-off reset for {n} client(s)")
    return 0


def _status(args: argparse.Namespace) -> int:
    from core import services

    st = services.auth_status()
    text = f"password: set for {st['user']} on {st['set_at'][:19]}" if st["password_set"] else "password: not set"
    emit(st, args.json, text)
    return 0
