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
import subprocess
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


def _cpu(executor) -> float:
    """Return the CPU seconds used so far by this process and, on Dask, by every worker process."""
    own = time.process_time()
    client = getattr(executor, "client", None)
    return own + (sum(client.run(time.process_time).values()) if client is not None else 0.0)


def run_ours(frames: dict[str, pd.DataFrame], sets: list[dict[str, int]], mode: str) -> dict:
    """Return the timings of one executor mode: sweep seconds (summary included), CPU seconds, cluster start, warm-up, paths, best Sharpe."""
    from core.research import DaskExecutor, SequentialExecutor, load_sweep, run_sweep
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
            # Load the compiled kernels (numba's cache) in every process first, as vectorbt's are compiled before its timing.
            w0 = time.perf_counter()
            warm = {s: f.iloc[:400] for s, f in list(frames.items())[:2]}
            run_sweep(Store(f"sqlite:///{tmp}/warm.db"), warm, "sma_cross", {}, sets=[{"fast": 5, "slow": 20, "mode": "long_flat"}] * 1,
                      limits=limits, commission=COMMISSION, executor=executor)
            warm_s = time.perf_counter() - w0
            c1, t1 = _cpu(executor), time.perf_counter()
            res = run_sweep(store, frames, "sma_cross", {}, sets=[{**p, "mode": "long_flat"} for p in sets], limits=limits, commission=COMMISSION,
                            executor=executor)
            elapsed, cpu = time.perf_counter() - t1, _cpu(executor) - c1
        finally:
            executor.__exit__(None, None, None)
        s0 = time.perf_counter()
        load_sweep(store, res.sweep_id)
        summary_s = time.perf_counter() - s0
        paths = ", ".join(f"{k} {v:,}" for k, v in res.trials["path"].value_counts().items())
        return {"sec": elapsed, "cpu": cpu, "started": started, "warm": warm_s, "n": res.ran, "best": float(res.trials["sharpe"].max()),
                "paths": paths, "summary": summary_s}


def run_vectorbt(frames: dict[str, pd.DataFrame], sets: list[dict[str, int]]) -> tuple[float, int, float, float, float]:
    """Return (seconds, trials, best Sharpe, first-call compile seconds, CPU seconds) for the same sweep with vectorbt's broadcasting."""
    import vectorbt as vbt

    close = pd.DataFrame({s: f["close"].to_numpy() for s, f in frames.items()}, index=pd.date_range("2003-01-01", periods=BARS, freq="B"))
    fasts, slows = [p["fast"] for p in sets], [p["slow"] for p in sets]
    small = close.iloc[:300, :2]  # compile vectorbt's numba functions first: the timing below is the warm run
    c0 = time.perf_counter()
    warm = vbt.MA.run(small, [5, 10], short_name="fast").ma_crossed_above(vbt.MA.run(small, [20, 30], short_name="slow"))
    vbt.Portfolio.from_signals(small.vbt.tile(2), warm.to_numpy(), warm.to_numpy(), fees=COMMISSION, freq="1D").sharpe_ratio()
    compile_s = time.perf_counter() - c0
    t, c = time.perf_counter(), time.process_time()
    fast = vbt.MA.run(close, fasts, short_name="fast")
    slow = vbt.MA.run(close, slows, short_name="slow")
    entries, exits = fast.ma_crossed_above(slow), fast.ma_crossed_below(slow)
    pf = vbt.Portfolio.from_signals(close.vbt.tile(len(sets), keys=pd.Index(range(len(sets)), name="set")), entries.to_numpy(), exits.to_numpy(),
                                    fees=COMMISSION, init_cash=10_000.0, freq="1D")
    sharpe = pf.sharpe_ratio()
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    return elapsed, int(sharpe.size), float(np.nanmax(sharpe.to_numpy())), compile_s, cpu


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    """Run the benchmark and print (or append) a markdown section."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=10, help="parameter sets (the issue's full size is 1000)")
    ap.add_argument("--modes", default="sequential,dask1,dask2,vectorbt")
    ap.add_argument("--write", action="store_true", help="append the section to bench/RESULTS.md")
    args = ap.parse_args()
    frames = load_data()
    sets = parameter_sets(args.sets)
    load_start = _uptime()
    rows, paths = [], set()
    for mode in args.modes.split(","):
        if mode == "vectorbt":
            try:
                import vectorbt  # noqa: F401
            except ImportError:
                print("vectorbt is not installed here: pip install -r requirements-bench.txt to time it in the same run", flush=True)
                continue
            sec, n, best, compile_s, cpu = run_vectorbt(frames, sets)
            rows.append((f"vectorbt {__import__('vectorbt').__version__} broadcasting (no risk engine, no storage, no DSR/PBO)", n, sec, cpu,
                         f"compile {compile_s:.0f}", best, None, None))
        else:
            r = run_ours(frames, sets, mode)
            label = {"sequential": "ours, sequential (no Dask)", "dask1": "ours, Dask LocalCluster 1 worker",
                     "dask2": "ours, Dask LocalCluster 2 workers"}[mode]
            paths.add(r["paths"])
            rows.append((label, r["n"], r["sec"], r["cpu"], f"{r['started']:.1f} + {r['warm']:.1f}", r["best"], r["summary"], r["paths"]))
        print(f"{rows[-1][0]}: {rows[-1][1]} trials in {rows[-1][2]:.1f} s = {rows[-1][1] / rows[-1][2]:,.1f} trials/s", flush=True)
    load_end = _uptime()
    lines = [f"## Parameter sweep, {args.sets} sets x {len(frames)} symbols x {BARS} daily bars — {datetime.now(UTC):%Y-%m-%d} (bench/sweep.py)", "",
             f"sma_cross long_flat, commission {COMMISSION:g}; ours: every order through the risk engine (configured limits), each trial stored "
             f"in SQLite, the sweep's summary (DSR, PBO) included; trial paths: {'; '.join(sorted(paths)) or 'n/a'}. "
             f"Python {platform.python_version()}, {os.cpu_count()} cores shared with other jobs: `uptime` before: {load_start}; "
             f"after: {load_end}.", "",
             "| run | trials | seconds | trials/s | CPU s | start + warm-up s (not counted) | reload + summary s (separate, not counted) | best Sharpe |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, n, sec, cpu, started, best, summary_s, _ in rows:
        lines.append(f"| {label} | {n:,} | {sec:.2f} | {n / sec:,.1f} | {'' if cpu is None else f'{cpu:.1f}'} | {started} | "
                     f"{'' if summary_s is None else f'{summary_s:.2f}'} | {best:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with open(ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
