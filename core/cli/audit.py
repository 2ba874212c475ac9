"""``python -m core audit [--symbol AAPL] [--json]``: truncation leakage audit of features, model, regime and forecast exposure."""

from __future__ import annotations

import argparse

from core.cli import _args, emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``audit`` command."""
    p = sub.add_parser("audit", help="check that no feature, probability or regime at t uses bars after t")
    p.add_argument("--symbol", default="AAPL")
    p.add_argument("--model", help="model id (default: the latest; a tiny model when none exists)")
    p.add_argument("--points", type=_args.count("--points", 1, 10_000), default=5, help="random bars to check")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from core import services
    from core.cli import CliError
    from core.models.registry import ModelNotFound

    try:
        res = services.audit(args.symbol, model_id=args.model, n_points=args.points, seed=args.seed)
    except ModelNotFound as exc:
        raise CliError(str(exc)) from None
    if res["features_ok"]:
        text = f"OK: {res['columns_checked']} columns (features, p_up, regime) identical on truncated series at {len(res['points'])} points"
    else:
        text = "LEAK: " + "; ".join(f"{c} at {', '.join(ts)}" for c, ts in res["details"].items())
    ex = res["exposure"]
    text += (f"\nforecast exposure ({ex['model']}, budget {ex['budget']:.1%}): " + (f"not audited: {ex['skipped']}" if ex.get("skipped") else
             f"OK: forecast VaR, scale and equity identical on truncated series at {len(ex['points'])} points" if ex["ok"] else
             "LEAK: " + "; ".join(f"{c} at {', '.join(ts)}" for c, ts in ex["details"].items())))
    for w in res["session_models"]:
        verdict = "OVERLAP: trades bars it was trained on" if w["overlap"] else "no overlap"
        text += (f"\npaper session model {w['model_id']}: trained {str(w['trained_from'])[:10]} to {str(w['trained_to'])[:10]}, "
                 f"trades from {str(w['trades_from'])[:10]} ({w['gap_bars']} bars between, embargo 5): {verdict}")
    emit(res, args.json, text)
    return 0 if res["ok"] else 1
