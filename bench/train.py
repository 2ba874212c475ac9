"""Benchmark: walk-forward training of the ensemble on 10 years x 20 symbols of daily bars.

Seeded synthetic bars (2,520 per symbol), horizon 5, 5 purged walk-forward folds,
the final fit on all rows and the registry write, i.e. ``services.train`` end to end
(regime classifiers and permutation importance excluded: they are per-symbol and UI
extras). Target: < 60 s on 2 cores. Appends a section to bench/RESULTS.md.

Run: ``.venv/bin/python bench/train.py [--preset fast] [--jobs 2]``

The wall time depends on what else the machine runs: the row also gives the CPU seconds of
this process and its workers and the load average before and after. ``--per-member`` instead
fits every fold and member one after another in this process and prints the CPU seconds of
each (where the time goes, whatever the load).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _synthetic import synthetic_bars  # noqa: E402

from core import services  # noqa: E402
from core.config import load_settings  # noqa: E402
from core.services import Context  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--bars", type=int, default=2520)
    parser.add_argument("--preset", default="standard", choices=["tiny", "fast", "standard"])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--members", default="auto", help="comma-separated members, or 'auto' (four + torch when installed)")
    parser.add_argument("--per-member", action="store_true", help="CPU seconds of each fold x member, fitted in this process")
    args = parser.parse_args()
    members = None if args.members == "auto" else tuple(args.members.split(","))
    bars = {f"SYN{i:02d}": synthetic_bars(args.bars, seed=i) for i in range(args.symbols)}
    if args.per_member:
        return per_member(bars, args.preset, args.folds, members)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(config_file=None, store={"database_url": f"sqlite:///{tmp}/bench.db"}, log={"dir": tmp})
        ctx = Context.create(settings)
        ctx.extras["models_dir"] = tmp
        t0 = time.perf_counter()
        res = services.train(
            list(bars), 5, bars=bars, n_splits=args.folds, members=members, preset=args.preset, regime=False, importance_rows=0, n_jobs=args.jobs, ctx=ctx,
            progress=lambda f, m: print(f"{time.perf_counter() - t0:7.1f}s {m}", flush=True),
        )  # fmt: skip
        elapsed = time.perf_counter() - t0
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)  # the workers exit and are reaped: their CPU time joins RUSAGE_CHILDREN
    cpu = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))
    auc = res["overall"]["roc_auc"]
    line = (
        f"| {datetime.now(UTC):%Y-%m-%d} | {args.symbols} x {args.bars} | {res['n_samples']:,} x {res['n_features']} | {args.preset} | "
        f"{'+'.join(res['members'])} | {args.folds} | {args.jobs} | {elapsed:.1f} s | {'met' if elapsed < 60 else 'MISSED'} (< 60 s) | "
        f"{cpu:.0f} s | {load0:.1f} / {os.getloadavg()[0]:.1f} | {auc['value']:.3f} [{auc['lo']:.3f}, {auc['hi']:.3f}] |"
    )
    print(line)
    out = ROOT / "bench" / "RESULTS.md"
    header = "" if out.exists() else "# Benchmark results\n"
    with out.open("a") as fh:
        fh.write(
            f"{header}\n## Walk-forward training (`bench/train.py`, synthetic daily bars, horizon 5)\n\n"
            "| date | symbols x bars | rows x features | preset | members | folds | jobs | wall time | target | CPU (all processes) | load before / after "
            "| OOS ROC AUC (95% CI) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n"
            f"{line}\n"
        )
    return 0


def per_member(bars: dict, preset: str, folds: int, members: tuple[str, ...] | None) -> int:
    """Print the CPU seconds of each walk-forward task (folds, then the final fit) and member, fitted one after another here."""
    import numpy as np

    from core.models.cv import PurgedWalkForward
    from core.models.dataset import build_dataset
    from core.models.ensemble import MEMBERS, EnsembleClassifier
    from core.models.torch_member import torch_available
    from core.services.training import PRESETS

    names = members or ((*MEMBERS, "torch") if torch_available() else MEMBERS)
    data = build_dataset(bars, 5)
    x, y, groups = data.X.to_numpy(np.float64), data.y, np.asarray(data.symbol).astype(str)
    tasks = [train for train, _ in PurgedWalkForward(n_splits=folds, embargo=5).split(data.t0, data.t1)] + [np.arange(len(y))]
    print("| task | rows | " + " | ".join(names) + " | task |\n|---|---:|" + "---:|" * (len(names) + 1))
    totals = dict.fromkeys(names, 0.0)
    for k, rows in enumerate(tasks):
        cpu = {}
        for name in names:  # the ensemble of one member: its calibration fit and its refit, as in the full ensemble
            model = EnsembleClassifier(members=(name,), gap=5 * len(bars), n_jobs=1, **PRESETS[preset])
            c0 = time.process_time()
            model.fit(x[rows], y[rows], groups=groups[rows])
            cpu[name] = time.process_time() - c0
            totals[name] += cpu[name]
        label = "final fit" if k == len(tasks) - 1 else f"fold {k + 1}"
        print(f"| {label} | {len(rows):,} | " + " | ".join(f"{cpu[n]:.1f}" for n in names) + f" | {sum(cpu.values()):.1f} |")
    print("| all | | " + " | ".join(f"{totals[n]:.1f}" for n in names) + f" | {sum(totals.values()):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
