"""Benchmark: a multi-asset daily backtest with the risk engine on, as ``services.backtest`` runs it, at growing universe sizes.

Issue 15, goal 4: a 500-symbol x 10-year daily backtest with the configured risk engine
checking every order (the path ``python -m core backtest --symbols ...`` and the Backtest page
take: ``run_backtest(frames, ..., risk=make_backtest_risk("configured"))``). Prints, per
universe size, wall and CPU seconds, symbol-bars per CPU-second, risk checks, and peak memory
(the process's peak RSS growth and tracemalloc's peak of Python allocations). Target: < 60 s and
< 2 GB at 500 symbols on 2 cores. Run: ``.venv/bin/python bench/scale.py [--symbols 25 50 100] [--years 10]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, nargs="+", default=[25, 50, 100])
    parser.add_argument("--years", type=int, default=10)
    args = parser.parse_args()
    bars = 252 * args.years
    print(f"# multi-asset risk-checked backtest (risk='configured'), SMA cross 10/30, {bars} daily bars per symbol, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"load {os.getloadavg()[0]:.1f}")
    run(universe(2, 300))  # imports, caches
    for n in args.symbols:
        frames = universe(n, bars)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        w0, c0 = time.perf_counter(), time.process_time()
        res, checks = run(frames)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"{n:>4} symbols x {bars} bars: wall {wall:7.1f} s, cpu {cpu:7.1f} s ({n * bars / cpu:8,.0f} symbol-bars/cpu-s), "
              f"{checks:,} risk checks, {res.report['trades']} trades, tracemalloc peak {peak / 2**20:7.1f} MiB, "
              f"peak RSS {rss / 1024:7.1f} MiB (+{(rss - rss0) / 1024:.1f}), load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
