"""``python -m core feed test --provider ccxt --symbol BTC/USDT --timeframe 1m [--json]``."""

from __future__ import annotations

import argparse

from core.cli import emit_check


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``feed`` command group."""
    p = sub.add_parser("feed", help="live market-data feeds")
    fsub = p.add_subparsers(dest="feed_command", required=True)
    test = fsub.add_parser("test", help="fetch one closed bar from a data provider")
    test.add_argument("--provider", choices=["venue", "ccxt", "alpaca", "yfinance", "zerodha"], help="default: data.provider")
    test.add_argument("--symbol", help="in the provider's spelling, e.g. BTC/USDT or AAPL (default: data.default_symbol)")
    test.add_argument("--timeframe", help="1m, 5m, 15m, 1h, 4h, 1d (default: trading.timeframe)")
    test.add_argument("--json", action="store_true")
    test.set_defaults(func=_test)


def _test(args: argparse.Namespace) -> int:
    from core import services

    def describe(out: dict) -> str:
        bar = out["bar"]
        return (f"{out['source']} {out['symbol']} {out['timeframe']} {bar['ts']}: open {bar['open']:g} high {bar['high']:g} "
                f"low {bar['low']:g} close {bar['close']:g} volume {bar['volume']:g}")

    return emit_check(services.check_feed(args.provider, args.symbol, args.timeframe), args.json, describe)
