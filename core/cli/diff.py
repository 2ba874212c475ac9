"""``python -m core diff [--session ID | --account NAME] [--no-save] [--json]``: backtest-vs-live diff of a trading session."""

from __future__ import annotations

import argparse

from core.cli import emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``diff`` command."""
    p = sub.add_parser("diff", help="re-run the backtest over the bars a trading session saw and compare signals, orders, fills and risk decisions bar by bar")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--session", metavar="ID", help="session id (the account it trades, e.g. paper); default trading.account")
    who.add_argument("--account", metavar="NAME", help="same as --session")
    p.add_argument("--no-save", action="store_true", help="print only: do not store the per-day rows, audit or notify")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def _text(out: dict) -> str:
    lines = [f"session {out['account']}: bars {out['first_bar'][:10]} .. {out['last_bar'][:10]} ({out['bars']} bars)",
             f"orders: {out['orders_live']} live, {out['orders_backtest']} backtest, {out['matched']} match ({out['match_pct']:.1f}%)",
             f"P&L live - backtest: {out['pnl_diff']:+,.2f}   gap {out['gap_pct']:.2f}% (alert above {out['threshold_pct']:g}%)"]
    if out.get("signals"):
        lines.insert(2, f"model signals: {out['signals']} (symbol, bar), {out['signals_matched']} match")
    first = out["first_divergence"]
    if first is None:
        lines.append("divergences: none (the session did exactly what its backtest does)")
    else:
        lines.append(f"divergences: {out['n_divergences']}; first at {first['ts'][:19]}: {first['label']} "
                     f"({first['client_order_id'] or '-'}): {first['detail']}")
        lines += [f"  {d['ts'][:19]}  {d['label']:<22} {d['client_order_id'] or '-'}  {d['detail']}" for d in out["divergences"][1:10]]
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from core import services
    from core.cli import CliError

    try:
        out = services.session_diff(args.session or args.account, save=not args.no_save, actor="cli")
    except services.NoSession as exc:
        raise CliError(str(exc)) from None
    if args.json:
        out = {k: v for k, v in out.items() if k != "equity"}
    emit(out, args.json, _text(out))
    return 0
