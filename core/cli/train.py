"""``python -m core train --symbols AAPL,MSFT --horizon 5 [--json]``: walk-forward training."""

from __future__ import annotations

import argparse
import sys

from core.cli import _args, emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` command."""
    p = sub.add_parser("train", help="train the ensemble walk-forward and save it (out-of-sample metrics with 95%% CIs)")
    p.add_argument("--symbols", help="comma-separated symbols, e.g. AAPL,MSFT,IBM")
    p.add_argument("--horizon", type=_args.count("--horizon", 1, 1000), default=5, help="label horizon in bars (default 5)")
    p.add_argument("--dead-band", type=_args.fraction("--dead-band", 0.0, 0.5), default=0.0, help="leave |forward return| <= this unlabelled")
    p.add_argument("--labels", choices=["direction", "triple_barrier"], default="direction")
    p.add_argument("--barrier", type=_args.fraction("--barrier", 1e-6, 1.0), default=0.02, help="triple-barrier distance as a fraction of the close")
    p.add_argument("--folds", type=_args.count("--folds", 2, 100), default=5, help="walk-forward test folds (default 5)")
    p.add_argument("--embargo", type=_args.count("--embargo", 0), default=None, help="time steps between training labels and a test fold (default: horizon)")
    p.add_argument("--method", choices=["soft", "stacking"], default="soft")
    p.add_argument("--calibration", choices=["sigmoid", "isotonic", "none"], default="sigmoid")
    p.add_argument("--preset", choices=["tiny", "fast", "standard"], default="standard", help="model size")
    p.add_argument("--start", type=_args.date, help="first bar date, e.g. 2004-01-01")
    p.add_argument("--end", type=_args.date, help="last bar date")
    p.add_argument("--no-regime", action="store_true", help="skip the regime classifiers")
    p.add_argument("--sentiment", action=argparse.BooleanOptionalAction, default=None,
                   help="add (or leave out) the causal news-sentiment features; default models.features.sentiment")
    p.add_argument("--importance-rows", type=_args.count("--importance-rows", 0), default=1000, help="validation rows for permutation importance (0: skip)")
    p.add_argument("--jobs", type=_args.jobs, default=1, help="worker processes for folds and the final fit (-1: all cores)")
    p.add_argument("--dask", action="store_true", help="run the folds and the final fit on the research cluster (research.scheduler_address, "
                   "or a local Dask cluster)")
    p.add_argument("--list", action="store_true", help="list trained models instead of training")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def _fmt(m: dict) -> str:
    return f"{m['value']:.4f} [{m['lo']:.4f}, {m['hi']:.4f}]"


def _text(res: dict) -> str:
    lines = [f"model {res['model_id']}  symbols {','.join(res['symbols'])}  horizon {res['horizon']}  rows {res['n_samples']}  features {res['n_features']}"
             + (" (with news sentiment)" if res.get("sentiment") else "")]
    lines.append("out-of-sample walk-forward (95% CI, effective n = n / horizon):")
    lines.append(f"{'':12s} {'n':>6s}  {'accuracy':28s} {'balanced acc':28s} {'ROC AUC':28s} {'log loss':28s} {'Brier':28s}")

    def row(name: str, m: dict) -> str:
        cells = [_fmt(m[k]) if k in m else "-" for k in ("accuracy", "balanced_accuracy", "roc_auc", "log_loss", "brier")]
        return f"{name:12s} {m['n']:6d}  " + " ".join(f"{c:28s}" for c in cells)

    for f in res["folds"]:
        lines.append(row(f"fold {f['fold']}", f["metrics"]))
    lines.append(row("overall", res["overall"]))
    lines.append(row("majority", res["baselines"]["majority"]))
    lines.append(row("coin flip", res["baselines"]["coin_flip"]))
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from core import services
    from core.cli import CliError

    if args.list:
        models = services.list_models()
        text = "\n".join(f"{m['id']}  {','.join(m['symbols'])}  h={m['horizon']}  n={m['n']}  auc={m['roc_auc']}" for m in models) or "no models yet"
        emit(models, args.json, text)
        return 0
    if not args.symbols:
        raise CliError("give --symbols, e.g. --symbols AAPL,MSFT (see 'python -m core data list')")
    _args.check_range(args.start, args.end)

    def progress(frac: float, msg: str) -> None:
        if not args.json:
            print(f"[{frac:4.0%}] {msg}", file=sys.stderr)

    res = services.train(
        args.symbols, args.horizon, dead_band=args.dead_band, labels=args.labels, barrier=args.barrier, n_splits=args.folds,
        embargo=args.embargo, method=args.method,
        calibration=None if args.calibration == "none" else args.calibration, preset=args.preset, regime=not args.no_regime,
        start=args.start, end=args.end, n_jobs=args.jobs, dask=args.dask, importance_rows=args.importance_rows, progress=progress, actor="cli",
        sentiment=args.sentiment,
    )  # fmt: skip
    emit(res, args.json, _text(res))
    return 0
