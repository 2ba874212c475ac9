"""Benchmark: walk-forward training of the ensemble on 10 years x 20 symbols of daily bars.

Seeded synthetic bars (2,520 per symbol), horizon 5, 5 purged walk-forward folds,
the final fit on all rows and the registry write, i.e. ``services.train`` end to end
(regime classifiers and permutation importance excluded: they are per-symbol and UI
extras). Target: < 60 s on 2 cores. Appends a section to bench/RESULTS.md.

Run: ``.venv/bin/python bench/train.py [--preset fast] [--jobs 2]``
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args()
    members = None if args.members == "auto" else tuple(args.members.split(","))
    bars = {f"SYN{i:02d}": synthetic_bars(args.bars, seed=i) for i in range(args.symbols)}
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
    auc = res["overall"]["roc_auc"]
    line = (
        f"| {datetime.now(UTC):%Y-%m-%d} | {args.symbols} x {args.bars} | {res['n_samples']:,} x {res['n_features']} | {args.preset} | "
        f"{'+'.join(res['members'])} | {args.folds} | {args.jobs} | {elapsed:.1f} s | {'met' if elapsed < 60 else 'MISSED'} (< 60 s) | "
        f"{auc['value']:.3f} [{auc['lo']:.3f}, {auc['hi']:.3f}] |"
    )
    print(line)
    out = ROOT / "bench" / "RESULTS.md"
    header = "" if out.exists() else "# Benchmark results\n"
    with out.open("a") as fh:
        fh.write(
            f"{header}\n## Walk-forward training (`bench/train.py`, synthetic daily bars, horizon 5)\n\n"
            "| date | symbols x bars | rows x features | preset | members | folds | jobs | wall time | target | OOS ROC AUC (95% CI) |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n"
            f"{line}\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
