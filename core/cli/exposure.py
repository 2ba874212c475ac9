"""``python -m core exposure --symbol SPX --start 2008-01-01 --end 2008-12-31``: forecast-driven exposure vs a fully invested book."""

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
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from core import services

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
