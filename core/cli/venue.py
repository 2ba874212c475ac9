"""``python -m core venue test --venue binance [--json]``: the venue's account, or a one-line error."""

from __future__ import annotations

import argparse

from core.cli import emit_check


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``venue`` command group."""
    p = sub.add_parser("venue", help="trading venues (brokers)")
    vsub = p.add_subparsers(dest="venue_command", required=True)
    test = vsub.add_parser("test", help="connect to a venue and show its account (cash, balances)")
    test.add_argument("--venue", choices=["binance", "alpaca", "zerodha", "router"], help="default: brokers.default")
    test.add_argument("--json", action="store_true")
    test.set_defaults(func=_test)


def _test(args: argparse.Namespace) -> int:
    from core import services

    def describe(out: dict) -> str:
        assets = ", ".join(f"{k} {v:g}" for k, v in sorted(out["balances"].items())) or "no balances"
        return f"{out['name']} ({out['endpoint']}): cash {out['cash']:g} {out['currency']} · {assets} · {out['open_orders']} open orders"

    return emit_check(services.check_venue(args.venue), args.json, describe)
