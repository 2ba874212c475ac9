"""``python -m core risk --symbol GOOG|--data PATH [--json]``: metrics and VaR/CVaR by every method."""

from __future__ import annotations

import argparse

from core.cli import emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``risk`` command."""
    p = sub.add_parser("risk", help="risk metrics and VaR/CVaR 95/99 (historical, normal, Cornish-Fisher, Monte Carlo, GARCH-t) of a series")
    p.add_argument("--symbol", help="bundled symbol, e.g. GOOG (see 'python -m core data list')")
    p.add_argument("--data", help="CSV or Parquet file of OHLCV bars instead of a symbol")
    p.add_argument("--timeframe", default="1d")
    p.add_argument("--periods-per-year", type=float, default=None,
                   help="annualisation; default from the bar calendar (365 for daily crypto, 252 for daily equities, x bars per day intraday)")
    p.add_argument("--risk-free", type=float, default=0.0, help="annual risk-free rate, e.g. 0.02")
    p.add_argument("--horizon", type=int, default=1, help="VaR horizon in periods")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_risk)


def _fmt(key: str, value: object) -> str:
    if isinstance(value, float):
        return f"{key:24s} {value:10.2f} %" if key.endswith("_pct") else f"{key:24s} {value:10.4f}"
    return f"{key:24s} {value}"


def _risk(args: argparse.Namespace) -> int:
    from core import services
    from core.cli import CliError

    if bool(args.symbol) == bool(args.data):
        raise CliError("give --symbol SYMBOL (e.g. GOOG) or --data PATH, exactly one")
    report = services.risk_report(
        args.symbol, data=args.data, timeframe=args.timeframe, risk_free=args.risk_free, periods_per_year=args.periods_per_year, horizon=args.horizon
    )
    emit(report, args.json, "\n".join(_fmt(k, v) for k, v in report.items()))
    return 0
