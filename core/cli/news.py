"""``python -m core news fetch|list|score``."""

from __future__ import annotations

import argparse
import sys

from core.cli import emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``news`` command group."""
    p = sub.add_parser("news", help="fetch, list and score news headlines")
    nsub = p.add_subparsers(dest="news_command", required=True)
    fetch = nsub.add_parser("fetch", help="fetch headlines (bundled set, plus RSS/NewsAPI/Finnhub/Alpha Vantage when configured) and store them")
    fetch.add_argument("--source", action="append", choices=["bundled", "rss", "newsapi", "finnhub", "alphavantage"],
                       help="only this source (repeatable; default: bundled plus every configured source)")
    fetch.add_argument("--symbol", action="append", help="symbol to query the APIs for (repeatable; default: news.symbols)")
    fetch.add_argument("--json", action="store_true")
    fetch.set_defaults(func=_fetch)
    ls = nsub.add_parser("list", help="stored headlines, newest first")
    ls.add_argument("--symbol", help="only headlines tagged with this symbol, e.g. AAPL")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    score = nsub.add_parser("score", help="score the sentiment of a headline")
    score.add_argument("text", help="headline text, quoted")
    score.add_argument("--json", action="store_true")
    score.set_defaults(func=_score)


def _fetch(args: argparse.Namespace) -> int:
    from core import services

    symbols = [s.upper() for s in args.symbol] if args.symbol else None
    report = services.fetch_news(args.source, symbols)
    fetched = ", ".join(f"{k} {v}" for k, v in report.fetched.items()) or "nothing"
    text = f"fetched: {fetched}; stored {report.inserted} new, {report.updated} updated"
    emit(report.to_dict(), args.json, text)
    for err in report.errors:
        print(f"warning: {err}", file=sys.stderr)
    # Partial failure: what arrived is stored, but the caller (cron, CI) should know.
    return 1 if report.errors else 0


def _list(args: argparse.Namespace) -> int:
    from core import services

    if args.limit <= 0:
        from core.cli import CliError

        raise CliError("--limit must be a positive number of headlines")
    services.ensure_news()
    items = services.list_news(args.symbol, limit=args.limit)
    lines = [
        f"{i.published:%Y-%m-%d %H:%M} {(i.label or '-'):8s} {i.sentiment if i.sentiment is not None else float('nan'):+.2f} "
        f"{','.join(i.symbols):12s} {i.title}"
        for i in items
    ]
    emit(services.news_to_records(items), args.json, "\n".join(lines) if lines else "no headlines stored for this filter")
    return 0


def _score(args: argparse.Namespace) -> int:
    from core import services

    scorer = services.headline_scorer()
    s = scorer.score(args.text)
    emit({"text": args.text, "score": s.score, "label": s.label, "scorer": scorer.name}, args.json, f"{s.score:+.4f} {s.label} ({scorer.name})")
    return 0
