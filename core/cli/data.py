"""``python -m core data list|show``."""

from __future__ import annotations

import argparse

from core.cli import _args, emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group."""
    p = sub.add_parser("data", help="list and show market data")
    dsub = p.add_subparsers(dest="data_command", required=True)
    ls = dsub.add_parser("list", help="available symbols with date ranges and bar sizes")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    show = dsub.add_parser("show", help="bars of one symbol or file")
    show.add_argument("symbol", nargs="?", help="bundled symbol, e.g. AAPL")
    show.add_argument("--data", help="CSV or Parquet file instead of a symbol")
    show.add_argument("--timeframe", type=_args.timeframe, default="1d")
    show.add_argument("--start", type=_args.date)
    show.add_argument("--end", type=_args.date)
    show.add_argument("--repair", action="store_true", help="drop rows that break OHLCV rules or are likely bad ticks (reported on stderr)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)


def _list(args: argparse.Namespace) -> int:
    from core import services

    series = [s.to_dict() for s in services.list_series()]
    text = "\n".join(f"{s['symbol']:10s} {s['timeframe']:4s} {s['start'][:10]} -> {s['end'][:10]} {s['bars']:7d} bars" for s in series)
    emit(series, args.json, text)
    return 0


def _show(args: argparse.Namespace) -> int:
    from core import services
    from core.cli import CliError

    if args.symbol and args.data:
        raise CliError("give a SYMBOL or --data PATH, not both")
    if not args.symbol and not args.data:
        raise CliError("give a SYMBOL (see 'python -m core data list') or --data PATH")
    _args.check_range(args.start, args.end)
    notes: list[str] = []
    frame = services.load_bars(args.symbol, data=args.data, timeframe=args.timeframe, start=args.start, end=args.end, repair=args.repair, notes=notes)
    emit(services.bars_to_records(frame), args.json, frame.to_string())
    _args.print_notes(notes)
    return 0
