"""``python -m core exposure --symbol SPX --start 2008-01-01 --end 2008-12-31``: forecast-driven exposure vs a fully invested book.

``python -m core exposure --session [ID]``: the paper session's own next-bar VaR forecasts against its realised returns.
"""

from __future__ import annotations

import argparse

from core.cli import emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``exposure`` command."""
    p = sub.add_parser("exposure", help="backtest exposure scaled to a next-bar VaR forecast vs unscaled; breach rates, Kupiec, Christoffersen")
    p.add_argument("--symbol", default="SPX")
    p.add_argument("--start", default="2008-01-01")
    p.add_argument("--end", default="2008-12-31")
    p.add_argument("--budget", type=float, help="VaR budget as a fraction of equity (default risk.var_budget_pct)")
    p.add_argument("--model", choices=["garch_t", "quantile"], help="forecaster (default risk.forecast_model)")
    p.add_argument("--level", type=float, default=0.99)
    p.add_argument("--session", nargs="?", const="", metavar="ID",
                   help="test the paper session's forecasts instead: the VaR forecast of the book it held at each bar vs the next bar's return")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def _session(args: argparse.Namespace) -> int:
    from core import services
    from core.cli import CliError

    try:
        rep = services.session_forecast_summary(args.session or None)
    except services.NoSession as exc:
        raise CliError(str(exc)) from None
    c = rep["coverage"]
    head = (f"session {rep['account']}: {rep['level']:.0%} next-bar VaR forecasts ({rep['model']}) of the book held, "
            f"{'used by risk.forecast_var' if rep['used'] else 'not used: risk.forecast_var was off at the session start'}")
    if c is None:
        text = head + "\nnot enough bars with a position yet"
    else:
        text = head + (f"\nbreaches {c['breaches']}/{c['n']} bars with a position = {c['rate']:.2%} (expected {c['expected_rate']:.0%}); "
                       f"Kupiec p {c['kupiec_p']:.3g}, Christoffersen ind p {c['ind_p']:.3g}, cc p {c['cc_p']:.3g}; "
                       f"mean forecast VaR {rep['mean_forecast_var']:.2%} of equity")
    emit(rep, args.json, text)
    return 0


def _run(args: argparse.Namespace) -> int:
    from core import services

    if args.session is not None:
        return _session(args)
    rep = services.forecast_exposure(args.symbol, args.start, args.end, budget=args.budget, model=args.model, level=args.level)
    rep.pop("series")
    lines = [f"{rep['symbol']} {rep['start']} .. {rep['end']}  {rep['level']:.0%} VaR budget {rep['budget']:.2%} of equity  forecaster {rep['model']}"]
    for name in ("scaled", "unscaled"):
        b, f = rep[name]["vs_budget"], rep[name]["forecast_vs_realised"]
        lines.append(f"{name:8s} budget breaches {b['breaches']}/{b['n']} = {b['rate']:.2%} (expected {b['expected_rate']:.0%}; Kupiec p {b['kupiec_p']:.3g}, "
                     f"Christoffersen ind p {b['ind_p']:.3g}, cc p {b['cc_p']:.3g})  forecast breaches {f['rate']:.2%}  "
                     f"mean exposure {rep[name]['mean_scale']:.0%}  return {rep[name]['return_pct']:+.1f}%")  # fmt: skip
    emit(rep, args.json, "\n".join(lines))
    return 0
