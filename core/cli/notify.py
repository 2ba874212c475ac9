"""``python -m core notify test --channel telegram|discord|email``."""

from __future__ import annotations

import argparse
import sys

from core.cli import emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``notify`` command group."""
    p = sub.add_parser("notify", help="notifications (Telegram, Discord, e-mail)")
    nsub = p.add_subparsers(dest="notify_command", required=True)
    test = nsub.add_parser("test", help="send a test message on one channel")
    test.add_argument("--channel", required=True, choices=["telegram", "discord", "email"])
    test.add_argument("--json", action="store_true")
    test.set_defaults(func=_test)


def _test(args: argparse.Namespace) -> int:
    from core import services

    ctx = services.get_context()
    delivery = services.send_test_notification(args.channel)
    enabled = bool(getattr(ctx.settings.notify, f"{args.channel}_enabled"))
    payload = {"channel": delivery.channel, "status": delivery.status, "error": delivery.error, "enabled": enabled}
    if delivery.status == "sent":
        note = "" if enabled else f" (note: {args.channel} is disabled for events; set APP__NOTIFY__{args.channel.upper()}_ENABLED=true)"
        emit(payload, args.json, f"{args.channel}: test message sent{note}")
        return 0
    if args.json:
        emit(payload, True)
    print(f"error: {delivery.error}", file=sys.stderr)
    return 1
