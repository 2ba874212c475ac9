"""``python -m core risk --symbol GOOG|--data PATH|--weights A=w,B=w [--benchmark SPX] [--json]``: metrics, beta and VaR/CVaR by every method."""

from __future__ import annotations

import argparse
import math

from core.cli import _args, emit

MAX_WEIGHT = 10.0  # 10 x equity in one symbol: beyond any margin account; 1e308 overflows the returns


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``risk`` command."""
    p = sub.add_parser("risk", help="risk metrics and VaR/CVaR 95/99 (historical, normal, Cornish-Fisher, Monte Carlo, GARCH-t) of a series")
    p.add_argument("--symbol", help="bundled symbol, e.g. GOOG (see 'python -m core data list')")
    p.add_argument("--data", help="CSV or Parquet file of OHLCV bars instead of a symbol")
    p.add_argument("--timeframe", type=_args.timeframe, default="1d")
    p.add_argument("--periods-per-year", type=_args.count("--periods-per-year", 1, 527_040), default=None,
                   help="annualisation; default from the bar calendar (365 for daily crypto, 252 for daily equities, x bars per day intraday)")
    p.add_argument("--risk-free", type=_args.risk_free, default=0.0, help="annual risk-free rate as a fraction, e.g. 0.02")
    p.add_argument("--horizon", type=_args.count("--horizon", 1, 252), default=1, help="VaR horizon in periods")
    p.add_argument("--repair", action="store_true", help="drop rows of --data that break OHLCV rules or are likely bad ticks (reported)")
    p.add_argument("--benchmark", default="SPX", help="bundled symbol to measure beta against (default SPX)")
    p.add_argument("--weights", help="a constant-weight book instead of one series, e.g. AAPL=0.3,MSFT=-0.1 (adds concentration)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_risk)


def _fmt(key: str, value: object) -> str:
    if isinstance(value, float):
        return f"{key:24s} {value:10.2f} %" if key.endswith("_pct") else f"{key:24s} {value:10.4f}"
    return f"{key:24s} {value}"


def _weights(text: str) -> dict[str, float]:
    from core.cli import CliError

    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        name = name.strip().upper()
        try:
            weight = float(value)
        except ValueError:
            raise CliError(f"--weights needs SYMBOL=FRACTION pairs such as AAPL=0.3,MSFT=-0.1, got {part!r}") from None
        if not name or not math.isfinite(weight) or abs(weight) > MAX_WEIGHT:
            raise CliError(f"--weights: {part!r} must be SYMBOL=FRACTION with a finite fraction of equity between -{MAX_WEIGHT:g} and "
                           f"{MAX_WEIGHT:g}, such as AAPL=0.3")
        if name in out:
            raise CliError(f"--weights: {name} is given twice; give each symbol once")
        out[name] = weight
    if not out:
        raise CliError("--weights needs at least one SYMBOL=FRACTION pair, e.g. AAPL=0.3")
    return out


def _risk(args: argparse.Namespace) -> int:
    from core import services
    from core.cli import CliError

    if sum(map(bool, (args.symbol, args.data, args.weights))) != 1:
        raise CliError("give --symbol SYMBOL (e.g. GOOG), --data PATH or --weights AAPL=0.3,MSFT=-0.1, exactly one")
    if args.weights:
        report = services.portfolio_risk(_weights(args.weights), timeframe=args.timeframe, horizon=args.horizon,
                                         periods_per_year=args.periods_per_year, benchmark=args.benchmark)
    else:
        report = services.risk_report(args.symbol, data=args.data, timeframe=args.timeframe, risk_free=args.risk_free,
                                      periods_per_year=args.periods_per_year, horizon=args.horizon, benchmark=args.benchmark, repair=args.repair)
    emit(report, args.json, "\n".join(_fmt(k, v) for k, v in report.items() if k != "data_notes"))
    _args.print_notes(report.get("data_notes", []))
    return 0
