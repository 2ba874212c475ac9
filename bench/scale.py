"""Benchmark: a multi-asset daily backtest with the risk engine on, as ``services.backtest`` runs it, at growing universe sizes.

Issue 15, goal 4: a 500-symbol x 10-year daily backtest with the configured risk engine
checking every order (the path ``python -m core backtest --symbols ...`` and the Backtest page
take: ``run_backtest(frames, ..., risk=make_backtest_risk("configured"))``). Prints, per
universe size, wall and CPU seconds, symbol-bars per CPU-second, risk checks, and peak memory
(the peak RSS of a fresh process per size; ``--tracemalloc`` adds the peak of traced allocations, at ~2x the time). Target: < 60 s and
< 2 GB at 500 symbols on 2 cores. Run: ``.venv/bin/python bench/scale.py [--symbols 25 50 100] [--years 10]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TQDM_DISABLE", "1")

from _synthetic import synthetic_bars

from core.backtest import run_backtest
from core.services.backtest import make_backtest_risk

CASH = 10_000_000.0


def universe(n_symbols: int, bars: int) -> dict:
    """Return ``n_symbols`` seeded daily series of ``bars`` bars on one business-day calendar."""
    return {f"S{i:03d}": synthetic_bars(bars, seed=1000 + i) for i in range(n_symbols)}


def run(frames: dict):
    """The default user path for several symbols: event engine, configured risk engine on every order."""
    risk = make_backtest_risk("configured")
    res = run_backtest(frames, "sma_cross", params={"fast": 10, "slow": 30}, cash=CASH, commission=0.0005, risk=risk, baseline=False)
    return res, sum(1 for e in risk.store.entries if "action" in e["data"])


def one(n: int, bars: int, trace: bool) -> None:
    """Run one universe size in this (fresh) process and print its figures."""
    run(universe(2, 300))  # imports, caches
    frames = universe(n, bars)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    w0, c0 = time.perf_counter(), time.process_time()
    res, checks = run(frames)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    traced = f", tracemalloc peak {tracemalloc.get_traced_memory()[1] / 2**20:7.1f} MiB" if trace else ""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{n:>4} symbols x {bars} bars: wall {wall:7.1f} s, cpu {cpu:7.1f} s ({n * bars / cpu:8,.0f} symbol-bars/cpu-s), "
          f"{checks:,} risk checks, {res.report['trades']} trades{traced}, peak RSS {rss / 1024:7.1f} MiB "
          f"(process, incl. {rss0 / 1024:.0f} MiB of imports and data), load {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, nargs="+", default=[25, 50, 100])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slows the run ~2x)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    bars = 252 * args.years
    if args.one:
        one(args.one, bars, args.tracemalloc)
        return
    print(f"# multi-asset risk-checked backtest (risk='configured'), SMA cross 10/30, {bars} daily bars per symbol, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"load {os.getloadavg()[0]:.1f}; each size in a fresh process", flush=True)
    for n in args.symbols:  # a fresh process per size: its peak RSS is that run's, not the largest so far
        cmd = [sys.executable, __file__, "--one", str(n), "--years", str(args.years)] + (["--tracemalloc"] if args.tracemalloc else [])
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
