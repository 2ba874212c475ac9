"""``python -m core health [--check] [--model ID] [--json]``: the pinned model's drift report and the retrain job's status."""

from __future__ import annotations

import argparse

from core.cli import emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``health`` command."""
    p = sub.add_parser("health", help="model health of the pinned model: feature drift (PSI), calibration drift, hit rate vs out-of-sample")
    p.add_argument("--check", action="store_true", help="also act on the result as the scheduled job does (store, audit, notify, entry stop)")
    p.add_argument("--model", help="model id to check instead of the paper session's pinned model")
    p.add_argument("--account", help="paper account (default: trading.account)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def _text(rep: dict, retrain: dict) -> str:
    lines = [f"model {rep['model_id']}  {'paper session' if rep['session'] else 'bars after its training data'}  "
             f"bars {rep['first_bar']} .. {rep['last_bar']}  outcomes {rep['n_outcomes']}"]  # fmt: skip
    lines.append(f"ALARM: {'; '.join(rep['reasons'])}" if rep["alarm"] else "alarm: off (every check within its bounds)")
    lines.append(f"feature drift: {len(rep['drifted'])}/{(len(rep['psi']) and len(rep['drifted']) + 0) or 0} drifted; top PSI "
                 + ", ".join(f"{k} {v:.2f}" for k, v in list(rep["psi"].items())[:5]))  # fmt: skip
    if rep["hit_rate"] is not None:
        lo, hi = rep["hit_ci"]
        oos = rep["brier_oos"] if rep["brier_oos"] is not None else float("nan")
        lines.append(f"calibration: Brier {rep['brier']:.4f} (out-of-sample {oos:.4f}), Spiegelhalter z {rep['calibration_z']:+.2f}")
        lines.append(f"hit rate {rep['hit_rate']:.1%} [{lo:.1%}, {hi:.1%}] vs out-of-sample accuracy {rep['oos_accuracy'] or float('nan'):.1%}")
    else:
        lines.append("calibration and hit rate: not enough realised outcomes yet")
    lines.append(f"retrain: last {retrain.get('last_run', 'never')} {retrain.get('result', '')} {retrain.get('model_id') or ''} "
                 f"replaced={retrain.get('replaced', False)}  next {retrain['next_run']}  rule {retrain['replace_rule']}")  # fmt: skip
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from core import services
    from core.cli import CliError
    from core.models.registry import ModelNotFound

    try:
        rep = services.check_model_health(args.account, actor="cli") if args.check else services.model_health(args.account, model_id=args.model)
    except ModelNotFound as exc:
        raise CliError(str(exc)) from None
    retrain = services.retrain_status()
    emit({**rep, "retrain": retrain}, args.json, _text(rep, retrain))
    return 0
