"""Standalone scheduler host: ``python -m jobs`` (runs until SIGTERM/SIGINT).

``python -m jobs --once`` runs a single trading tick and exits (scripts, tests).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from core.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs", description="run the background jobs (trading tick, retrain, news)")
    parser.add_argument("--once", action="store_true", help="run one trading tick and exit")
    parser.add_argument("--tick-seconds", type=float, help="override scheduler.tick_seconds")
    args = parser.parse_args(argv)
    try:
        from core.services import get_context

        ctx = get_context()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from core.log import setup_logging

    setup_logging(ctx.settings, console=True)
    if args.once:
        from core.services import get_loop, run_tick

        try:
            report = run_tick(ctx)
        finally:  # a one-shot host must not leave its lease to expire: the next run would wait lease_seconds
            get_loop(ctx).lease.release()
        print(json.dumps({"state": report.state, "bars": report.bars, "orders": report.orders, "fills": report.fills}))
        return 0
    from jobs.host import SchedulerHost

    host = SchedulerHost(ctx, tick_seconds=args.tick_seconds)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    host.start()
    try:
        stop.wait()
    finally:
        host.shutdown(wait=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
