"""Benchmark: SMA-cross(10, 20) on one synthetic 1,000,000-bar OHLCV random walk.

Times, in one run on the same data: our backtester (compiled path, end to end
including the report), our event-driven path on a slice, backtesting.py and
vectorbt (bench-only dependency, see requirements-bench.txt). Prints bars/second,
the ratios, the final equities (a sanity check that all three simulate the same
thing) and our peak memory. Run: ``.venv/bin/python bench/backtest.py [--bars N]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar

from core.backtest import run_backtest
from core.risk.hook import UNLIMITED

# 1 bp commission keeps the account trading through all 1M bars (0.2 % would grind it to dust early).
CASH, COMMISSION, FAST, SLOW = 10_000_000.0, 0.0001, 10, 20


def synthetic(n: int, seed: int = 7) -> pd.DataFrame:
    """Return a seeded log-normal random walk with consistent OHLCV bars at 1-minute spacing."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.empty(n)
    open_[0] = 100.0
    open_[1:] = close[:-1] * np.exp(rng.normal(0, 0.0003, n - 1))
    spread = np.abs(rng.normal(0, 0.0008, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.integers(1_000, 100_000, n).astype(float)
    index = pd.date_range("2000-01-01", periods=n, freq="min", tz="UTC", name="ts")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def ours(frame: pd.DataFrame, path: str = "auto"):
    return run_backtest(frame, "sma_cross", symbol="SYN", params={"fast": FAST, "slow": SLOW}, cash=CASH, commission=COMMISSION, path=path, baseline=False,
                                risk=UNLIMITED)


def backtesting_py(frame: pd.DataFrame):
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCross(Strategy):
        def init(self):
            self.a = self.I(SMA, self.data.Close, FAST)
            self.b = self.I(SMA, self.data.Close, SLOW)

        def next(self):
            if crossover(self.a, self.b):
                self.buy()
            elif crossover(self.b, self.a):
                self.sell()

    df = frame.rename(columns=str.capitalize).tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Backtest(df, SmaCross, cash=CASH, commission=COMMISSION, exclusive_orders=True).run()


def vectorbt_run(frame: pd.DataFrame):
    import vectorbt as vbt

    close = frame["close"].to_numpy()
    fast = vbt.MA.run(close, FAST).ma.to_numpy()
    slow = vbt.MA.run(close, SLOW).ma.to_numpy()
    # Crossovers in numpy: vectorbt's own ma_crossed_above is far slower here and would flatter us.
    up = np.zeros(close.size, dtype=bool)
    down = np.zeros(close.size, dtype=bool)
    up[1:] = (fast[:-1] < slow[:-1]) & (fast[1:] > slow[1:])
    down[1:] = (fast[:-1] > slow[:-1]) & (fast[1:] < slow[1:])
    # Same conventions as ours: decide at the close, fill at the next open, whole units, reversal on each cross.
    enter, leave = np.roll(up, 1), np.roll(down, 1)
    enter[0] = leave[0] = False
    pf = vbt.Portfolio.from_signals(close, entries=enter, exits=leave, short_entries=leave, short_exits=enter, price=frame["open"].to_numpy(),
                                    fees=COMMISSION, init_cash=CASH, size_granularity=1, freq="1min")
    return pf, float(pf.final_value())


def best(fn, repeat: int):
    """Return the best wall time of ``repeat`` runs (the machine is shared) and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t, out = timed(fn)
        times.append(t)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--event-bars", type=int, default=50_000, help="bars for the (slower) event-driven path")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for ours and vectorbt (backtesting.py runs once)")
    args = parser.parse_args()
    frame = synthetic(args.bars)
    print(f"# {args.bars:,} bars, SMA cross {FAST}/{SLOW}, commission {COMMISSION}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")

    ours(frame.iloc[:1000])  # compile (numba caches to disk) and warm up
    t_ours, res = best(lambda: ours(frame), args.repeat)
    tracemalloc.start()
    ours(frame)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    ev_frame = frame.iloc[: args.event_bars]
    t_event, ev = timed(lambda: ours(ev_frame, "event"))
    same = ev.report["final_equity"] == ours(ev_frame, "fast").report["final_equity"]
    rows = [("ours (compiled path)", t_ours, args.bars, res.report["final_equity"], res.report["trades"])]
    rows.append((f"ours (event path, {len(ev_frame):,} bars)", t_event, len(ev_frame), ev.report["final_equity"], ev.report["trades"]))

    t_bt, bt = timed(lambda: backtesting_py(frame))
    rows.append(("backtesting.py 0.6.6", t_bt, args.bars, float(bt["Equity Final [$]"]), int(bt["# Trades"])))
    try:
        vectorbt_run(frame.iloc[:1000])  # compile
        t_vbt, (pf, final) = best(lambda: vectorbt_run(frame), args.repeat)
        rows.append(("vectorbt 1.2.0 (numba)", t_vbt, args.bars, final, int(pf.trades.closed.count())))
    except ImportError:
        t_vbt = None
        print("vectorbt not installed: pip install -r requirements-bench.txt")

    print(f"{'engine (best of ' + str(args.repeat) + ')':36s} {'seconds':>9s} {'bars/s':>14s} {'final equity':>16s} {'trades':>8s}")
    for name, t, n, eq, trades in rows:
        print(f"{name:36s} {t:9.3f} {n / t:14,.0f} {eq:16,.2f} {trades:8d}")
    print(f"ours vs backtesting.py: {t_bt / t_ours:,.1f}x faster")
    if t_vbt is not None:
        print(f"ours vs vectorbt: {t_vbt / t_ours:,.2f}x")
    print(f"event path == compiled path on {len(ev_frame):,} bars: {same}")
    print(f"peak traced memory of our 1M-bar run: {peak / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
