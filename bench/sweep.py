"""Benchmark: a parameter sweep, N parameter sets x 10 symbols x 10 years of daily bars, risk-checked.

Times in one run on the same data: our sweep (every trial a backtest whose orders pass
the risk engine with the configured limits, stored in a fresh SQLite database) in
this process without Dask, on a Dask ``LocalCluster`` of 1 and of 2 worker processes,
and vectorbt's parameter broadcasting (``MA.run`` with lists of windows, then
``Portfolio.from_signals``; no risk engine, no database). Symbols: the bundled
AAPL, MSFT, IBM and SPX (last 2,520 bars each; GOOG has only ~2,150 and is left
out) plus seeded synthetic symbols to make 10. The strategy is sma_cross in
``long_flat`` mode, which is what a long-only vectorbt signal portfolio simulates.

Run: ``.venv/bin/python bench/sweep.py [--sets N] [--modes sequential,dask1,dask2,vectorbt] [--write]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

BARS, SYMBOLS, COMMISSION = 2520, 10, 0.001


def load_data() -> dict[str, pd.DataFrame]:
    """Return 10 symbols x 2,520 daily bars: bundled ones first, seeded synthetic ones after."""
    from _synthetic import synthetic_bars

    from core.data.providers import SampleProvider

    sample = SampleProvider(ROOT / "data" / "sample")
    frames = {}
    for sym in ("AAPL", "MSFT", "IBM", "SPX"):
        frames[sym] = sample.bars(sym, "1d")[["open", "high", "low", "close", "volume"]].iloc[-BARS:]
    seed = 0
    while len(frames) < SYMBOLS:
        seed += 1
        frames[f"SYN{seed}"] = synthetic_bars(BARS, seed=seed, start="2003-01-01")
    return frames


def parameter_sets(n: int, seed: int = 0) -> list[dict[str, int]]:
    """Return ``n`` distinct (fast, slow) pairs with fast < slow, drawn from fast 2..100 x slow 10..300."""
    pairs = [(f, s) for f in range(2, 101) for s in range(10, 301, 2) if f < s]
    return [{"fast": f, "slow": s} for f, s in random.Random(seed).sample(pairs, n)]


def run_ours(frames: dict[str, pd.DataFrame], sets: list[dict[str, int]], mode: str) -> tuple[float, float, int, float]:
    """Return (seconds for the sweep, seconds to start the executor, trials, best Sharpe) for one executor mode."""
    from core.research import DaskExecutor, SequentialExecutor, run_sweep
    from core.risk.limits import RiskLimits
    from core.services.settings import risk_limits
    from core.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        try:
            limits = RiskLimits.from_settings(risk_limits())
        except Exception:  # no app context configured: the defaults are the configured limits
            limits = RiskLimits()
        executor = SequentialExecutor() if mode == "sequential" else DaskExecutor(n_workers=int(mode[-1]), retries=0)
        t0 = time.perf_counter()
        executor.__enter__()
        started = time.perf_counter() - t0
        try:
            t1 = time.perf_counter()
            res = run_sweep(store, frames, "sma_cross", {}, sets=[{**p, "mode": "long_flat"} for p in sets], limits=limits, commission=COMMISSION,
                            executor=executor)
            elapsed = time.perf_counter() - t1
        finally:
            executor.__exit__(None, None, None)
        return elapsed, started, res.ran, float(res.trials["sharpe"].max())


def run_vectorbt(frames: dict[str, pd.DataFrame], sets: list[dict[str, int]]) -> tuple[float, int, float, float]:
    """Return (seconds, trials, best Sharpe, first-call compile seconds) for the same sweep with vectorbt's parameter broadcasting."""
    import vectorbt as vbt

    close = pd.DataFrame({s: f["close"].to_numpy() for s, f in frames.items()}, index=pd.date_range("2003-01-01", periods=BARS, freq="B"))
    fasts, slows = [p["fast"] for p in sets], [p["slow"] for p in sets]
    small = close.iloc[:300, :2]  # compile vectorbt's numba functions first: the timing below is the warm run
    c0 = time.perf_counter()
    warm = vbt.MA.run(small, [5, 10], short_name="fast").ma_crossed_above(vbt.MA.run(small, [20, 30], short_name="slow"))
    vbt.Portfolio.from_signals(small.vbt.tile(2), warm.to_numpy(), warm.to_numpy(), fees=COMMISSION, freq="1D").sharpe_ratio()
    compile_s = time.perf_counter() - c0
    t = time.perf_counter()
    fast = vbt.MA.run(close, fasts, short_name="fast")
    slow = vbt.MA.run(close, slows, short_name="slow")
    entries, exits = fast.ma_crossed_above(slow), fast.ma_crossed_below(slow)
    pf = vbt.Portfolio.from_signals(close.vbt.tile(len(sets), keys=pd.Index(range(len(sets)), name="set")), entries.to_numpy(), exits.to_numpy(),
                                    fees=COMMISSION, init_cash=10_000.0, freq="1D")
    sharpe = pf.sharpe_ratio()
    elapsed = time.perf_counter() - t
    return elapsed, int(sharpe.size), float(np.nanmax(sharpe.to_numpy())), compile_s


def main() -> None:
    """Run the benchmark and print (or append) a markdown section."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=10, help="parameter sets (the issue's full size is 1000)")
    ap.add_argument("--modes", default="sequential,dask1,dask2,vectorbt")
    ap.add_argument("--write", action="store_true", help="append the section to bench/RESULTS.md")
    args = ap.parse_args()
    frames = load_data()
    sets = parameter_sets(args.sets)
    rows = []
    for mode in args.modes.split(","):
        if mode == "vectorbt":
            sec, n, best, compile_s = run_vectorbt(frames, sets)
            rows.append((f"vectorbt {__import__('vectorbt').__version__} broadcasting (no risk engine, no storage; warm, "
                         f"first-call compile {compile_s:.0f} s not counted)", n, sec, None, best))
        else:
            sec, started, n, best = run_ours(frames, sets, mode)
            label = {"sequential": "ours, sequential (no Dask)", "dask1": "ours, Dask LocalCluster 1 worker",
                     "dask2": "ours, Dask LocalCluster 2 workers"}[mode]
            rows.append((label, n, sec, started, best))
        print(f"{rows[-1][0]}: {rows[-1][1]} trials in {rows[-1][2]:.1f} s = {rows[-1][1] / rows[-1][2]:,.1f} trials/s", flush=True)
    lines = [f"## Parameter sweep, {args.sets} sets x {len(frames)} symbols x {BARS} daily bars — {datetime.now(UTC):%Y-%m-%d} (bench/sweep.py)", "",
             f"sma_cross long_flat, commission {COMMISSION:g}; ours: every order through the risk engine (configured limits), event path "
             f"(the risk-checked path), each trial stored in SQLite. Python {platform.python_version()}, {os.cpu_count()} cores shared with "
             f"other jobs (load average {os.getloadavg()[0]:.1f} at the end).", "",
             "| run | trials | seconds | trials/s | cluster start s | best Sharpe |", "|---|---:|---:|---:|---:|---:|"]
    for label, n, sec, started, best in rows:
        lines.append(f"| {label} | {n:,} | {sec:.1f} | {n / sec:,.2f} | {'' if started is None else f'{started:.1f}'} | {best:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with open(ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
