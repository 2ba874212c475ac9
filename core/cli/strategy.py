"""``python -m core strategy list|check|new``: your own strategies, the library's, the look-ahead check."""

from __future__ import annotations

import argparse

from core.cli import emit
from core.cli.backtest import _params


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``strategy`` command."""
    p = sub.add_parser("strategy", help="list strategies, check one for look-ahead, write a template")
    actions = p.add_subparsers(dest="action", required=True, parser_class=type(p))
    ls = actions.add_parser("list", help="built-in, library and your own strategies with parameters and check status")
    ls.add_argument("--symbol", help="bundled symbol the checks run on (default: data.default_symbol)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    ck = actions.add_parser("check", help="look-ahead check: truncation and recursive warm-up tests on real bars")
    ck.add_argument("name")
    ck.add_argument("--symbol", help="bundled symbol to check on (default: data.default_symbol)")
    ck.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="strategy parameter, repeatable")
    ck.add_argument("--json", action="store_true")
    ck.set_defaults(func=_check)
    new = actions.add_parser("new", help="write a commented template NAME.py into the strategies folder")
    new.add_argument("name")
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    new.set_defaults(func=_new)


def _status(check: dict) -> str:
    if check["ok"]:
        return "ok (event-driven)" if check.get("kind") == "event" else "ok"
    return "LOOKS AHEAD" if check["lookahead"] else "FAILS: " + (check["problems"][0]["kind"] if check["problems"] else "?")


def _list(args: argparse.Namespace) -> int:
    from core import services

    catalog = services.strategy_catalog(checks=True, symbol=args.symbol)
    lines = [f"strategies (your folder: {catalog['dir']})"]
    for row in catalog["strategies"]:
        params = ", ".join(f"{k}={v}" for k, v in row["params"].items()) or "no parameters"
        lines.append(f"  {row['name']:22s} {row['origin']:8s} {row['kind']:7s} check: {_status(row['check']):18s} {params}")
    lines += [f"  error: {e}" for e in catalog["errors"]]
    emit(catalog, args.json, "\n".join(lines))
    return 0


def _check(args: argparse.Namespace) -> int:
    from core import services

    result = services.check_strategy(args.name, symbol=args.symbol, params=_params(args.param) or None)
    if result["ok"]:
        text = f"{result['name']}: passed on {result['symbol']}"
        if result["kind"] == "signals":
            text += f" ({result.get('tested', 0)} truncations of {result.get('bars', 0)} bars, warm-up {result.get('warmup')})"
        text += f"; {result['note']}" if result.get("note") else ""
    else:
        text = "\n".join(f"{result['name']}: {p['kind']}: {p['message']}" for p in result["problems"])
    emit(result, args.json, text)
    return 0 if result["ok"] else 1


def _new(args: argparse.Namespace) -> int:
    from core import services

    path = services.new_strategy(args.name, force=args.force)
    emit({"path": str(path)}, False, f"wrote {path}\nnext: python -m core strategy check {args.name}; "
                                     f"python -m core backtest --strategy {args.name} --symbol AAPL")
    return 0
