"""``python -m core paper start|stop|status``: the same toggle as the app's sidebar."""

from __future__ import annotations

import argparse

from core.cli import emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``paper`` command."""
    p = sub.add_parser("paper", help="start, stop or show the paper-trading loop")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from core import services

    if args.action == "start":
        status = services.paper_start(actor="cli")
    elif args.action == "stop":
        status = services.paper_stop(actor="cli")
    else:
        status = services.paper_status()
    text = f"paper trading: {'ON' if status['enabled'] else 'OFF'} (mode {status['mode']})"
    if status.get("last_tick_at"):
        text += f", last tick {status['last_tick_at']}"
    if status.get("last_error"):
        text += f", last error: {status['last_error']}"
    emit(status, args.json, text)
    return 0
