"""Benchmark: the feature set on 1,000,000 bars vs the raw TA-Lib calls it wraps (same run).

The raw baseline replays exactly the TA-Lib calls ``core.features.compute`` makes
(recorded through its TA-Lib gateway), with the same inputs, and keeps their
outputs alive as the feature set must; the difference is our overhead:
normalisation, derived inputs (log returns, log volume), calendar columns, the frame.
Target: compute <= 1.3 x raw. Appends a section to bench/RESULTS.md.

Run: ``.venv/bin/python bench/features.py [--bars N]``
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _synthetic import synthetic_bars  # noqa: E402

from core.features import compute  # noqa: E402
from core.features._ta import TaCalls, replay  # noqa: E402


def best_of(fn, repeat: int) -> float:
    """Return the fastest of ``repeat`` runs in seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bars = synthetic_bars(args.bars, seed=42, freq="min")
    calls: list = []
    feats = compute(bars, _ta=TaCalls(record=calls))
    n_cols = feats.shape[1]
    del feats  # keep neither side's previous output alive while timing the other
    t_raw = best_of(lambda: replay(calls), args.repeat)
    t_ours = best_of(lambda: compute(bars), args.repeat)
    ratio = t_ours / t_raw
    line = (
        f"| {datetime.now(UTC):%Y-%m-%d} | {args.bars:,} | {n_cols} | {len(calls)} | {t_raw:.2f} s | {t_ours:.2f} s | "
        f"{ratio:.2f}x | {'met' if ratio <= 1.3 else 'MISSED'} (<= 1.3x) |"
    )
    print(line)
    out = ROOT / "bench" / "RESULTS.md"
    header = "" if out.exists() else "# Benchmark results\n"
    section = (
        f"{header}\n## Features vs raw TA-Lib (`bench/features.py`, {platform.processor() or platform.machine()}, best of {args.repeat})\n\n"
        "| date | bars | columns | TA-Lib calls | raw TA-Lib | compute() | ratio | target |\n|---|---|---|---|---|---|---|---|\n"
        f"{line}\n"
    )
    with out.open("a") as fh:
        fh.write(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
