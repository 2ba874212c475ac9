"""``python -m core backtest --strategy NAME --symbol SYM|--data PATH [--param k=v ...]``."""

from __future__ import annotations

import argparse
import math

from core.cli import CliError, _args, emit

MAX_CASH = 1e12  # as trading.cash: more than any account; 1e308 overflows the equity curve
MAX_LOT = 1e6  # a forex standard lot is 1e5 units
_ROWS = [
    ("final_equity", "Final equity", "{:,.2f}"), ("return_pct", "Return [%]", "{:.2f}"),
    ("buy_and_hold_return_pct", "Buy & hold return [%] (no caps)", "{:.2f}"),
    ("cagr_pct", "CAGR [%]", "{:.2f}"), ("volatility_pct", "Volatility (ann.) [%]", "{:.2f}"), ("sharpe", "Sharpe", "{:.3f}"),
    ("sortino", "Sortino", "{:.3f}"), ("calmar", "Calmar", "{:.3f}"), ("max_drawdown_pct", "Max drawdown [%]", "{:.2f}"),
    ("max_drawdown_days", "Max drawdown duration [days]", "{:.0f}"), ("exposure_pct", "Exposure [%]", "{:.2f}"), ("trades", "Trades", "{:d}"),
    ("win_rate_pct", "Win rate [%]", "{:.2f}"), ("profit_factor", "Profit factor", "{:.3f}"), ("expectancy", "Expectancy", "{:,.2f}"),
    ("best_trade_pct", "Best trade [%]", "{:.2f}"), ("worst_trade_pct", "Worst trade [%]", "{:.2f}"), ("fees", "Fees", "{:,.2f}"),
]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``backtest`` command."""
    p = sub.add_parser("backtest", help="backtest a strategy and print its report")
    p.add_argument("--strategy", default="sma_cross", help="strategy name: built-in, library or your own (see: python -m core strategy list)")
    p.add_argument("--symbol", help="bundled symbol, e.g. GOOG (comma-separate several for one portfolio)")
    p.add_argument("--data", help="CSV or Parquet OHLCV file instead of a symbol")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="strategy parameter, repeatable (e.g. fast=10)")
    p.add_argument("--cash", type=_args.positive("cash", "10000", high=MAX_CASH), default=10_000.0)
    p.add_argument("--commission", type=_args.commission, default=0.0, help="rate on notional per fill, e.g. 0.002 (below 0.1)")
    p.add_argument("--size", default="all-in", help="'all-in' or a fraction of equity such as 0.5")
    p.add_argument("--lot", type=_args.positive("lot", "1 or 0.0001", high=MAX_LOT), default=1.0,
                   help="position unit: 1 = whole shares (default), 0.0001 for fractional crypto")
    p.add_argument("--timeframe", type=_args.timeframe, default="1d")
    p.add_argument("--start", type=_args.date, help="first bar date, e.g. 2010-01-04")
    p.add_argument("--end", type=_args.date, help="last bar date")
    p.add_argument("--repair", action="store_true", help="drop rows of --data that break OHLCV rules or are likely bad ticks (reported)")
    p.add_argument("--risk", choices=["configured", "permissive"], default="configured",
                   help="risk limits every order is checked against: the configured ones (default), or 'permissive' "
                        "(engine on, limits never bind) to compare with backtesting.py's all-in example")
    p.add_argument("--trades", action="store_true", help="include the trade list")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run)


def _params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise CliError(f"--param needs NAME=VALUE (e.g. --param fast=10), got {pair!r}")
        key, value = pair.split("=", 1)
        if key.strip() in out:
            raise CliError(f"--param {key.strip()} is given twice ({out[key.strip()]!r} and {value.strip()!r}); keep one")
        out[key.strip()] = value.strip()
    return out


def _clean(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _run(args: argparse.Namespace) -> int:
    from core import services

    if bool(args.symbol) == bool(args.data):
        raise CliError("give --symbol SYMBOL (see 'python -m core data list') or --data PATH, not both or neither")
    _args.check_range(args.start, args.end)
    result = services.backtest(args.strategy, symbol=args.symbol, data=args.data, params=_params(args.param), cash=args.cash,
                               commission=args.commission, size=args.size, lot_size=args.lot, timeframe=args.timeframe, start=args.start, end=args.end,
                               risk=args.risk, repair=args.repair)
    from core.services.backtest import risk_changes_rows

    report = {k: _clean(v) for k, v in result.report.items()}
    changes = result.report.get("risk_changes") or {}
    report["risk_changes"] = {"shrink": changes.get("shrink", 0), "veto": changes.get("veto", 0), "reasons": risk_changes_rows(changes)}
    if args.trades:
        trades = result.trades.copy()
        trades["duration"] = trades["duration"].astype(str)
        report["trade_list"] = trades.to_dict(orient="records")
    lines = [f"{result.report['strategy']} {result.report['params']} on {', '.join(result.report['symbols'])}  {report['start'][:10]} -> {report['end'][:10]}"]
    warnings = list(report.get("warnings") or [])
    if warnings and not (report.get("check") or {}).get("ok", True):
        lines.append(f"  WARNING: {warnings.pop(0)}")  # a failed look-ahead check first: the figures below are not tradable
    for key, label, fmt in _ROWS:
        value = report.get(key)
        lines.append(f"  {label:32s} {'n/a' if value is None else fmt.format(value)}")
    rc = report["risk_changes"]
    lines.append(f"  {'Risk engine':30s} {rc['veto']} orders vetoed, {rc['shrink']} shrunk")
    lines += [f"    {row['count']:>5d} x {row['action']}: {row['reason']}" for row in rc["reasons"][:5]]
    lines += [f"  warning: {w}" for w in warnings]
    emit(report, args.json, "\n".join(lines))
    return 0
