"""``python -m core ablation --symbols AAPL,MSFT [--json]``: out-of-sample effect of the news-sentiment features."""

from __future__ import annotations

import argparse

from core.cli import emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``ablation`` command."""
    p = sub.add_parser("ablation", help="walk-forward with and without the sentiment features (same rows and folds; n and 95%% CIs)")
    p.add_argument("--symbols", default="AAPL,MSFT", help="comma-separated symbols with news, e.g. AAPL,MSFT")
    p.add_argument("--horizon", type=int, default=5)
    p.add_argument("--preset", choices=["tiny", "fast", "standard"], default="fast")
    p.add_argument("--members", default="rf,gb", help="ensemble members, e.g. rf,gb,mlp,cat")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def _ci(m: dict) -> str:
    return f"{m['value']:.4f} [{m['lo']:.4f}, {m['hi']:.4f}]"


def _run(args: argparse.Namespace) -> int:
    from core import services

    rep = services.sentiment_ablation(args.symbols, args.horizon, preset=args.preset, members=tuple(args.members.split(",")), n_splits=args.folds,
                                      n_jobs=args.jobs)  # fmt: skip
    cov = rep["news_coverage"]
    lines = [f"symbols {','.join(rep['symbols'])}  horizon {rep['horizon']}  rows with a headline {cov['rows_with_headline']}/{cov['rows']}"]
    for name in ("without", "with"):
        m = rep[name]
        lines.append(f"{name:8s} n {m['n']} (n_eff {m['n_eff']:.0f})  AUC {_ci(m['roc_auc'])}  accuracy {_ci(m['accuracy'])}  log loss {_ci(m['log_loss'])}")
    d = rep["difference"]
    lines.append(f"with - without: log loss {_ci(d['log_loss'])}  Brier {_ci(d['brier'])}")
    lines.append(rep["verdict"])
    emit(rep, args.json, "\n".join(lines))
    return 0
