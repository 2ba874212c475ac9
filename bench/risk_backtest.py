"""Benchmark: the risk-checked backtest users run (CLI / Backtest page / services.backtest default).

SMA cross 10/20 on seeded synthetic one-minute bars, every order checked by the configured
risk engine and every position carrying the configured protective stop
(``make_backtest_risk("configured")`` and ``backtest_stop("configured")``, the calls
``services.backtest`` makes), on the path ``run_backtest`` picks (``--path auto``, what users get:
the compiled risk path when the run is supported, else the event path; ``--path event`` forces the
event path), against backtesting.py on the same bars in the same run. Prints seconds, bars/s, the
marginal bars/s between sizes, the growth ratio (linear cost: time grows like bars) and the
ratio to backtesting.py. Both wall and CPU seconds (``time.process_time``) are printed: on a
shared machine the CPU time is the figure that does not depend on the other jobs.
Run: ``.venv/bin/python bench/risk_backtest.py [--sizes 100000 1000000] [--path auto|event]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TQDM_DISABLE", "1")

from backtest import CASH, COMMISSION, FAST, SLOW, backtesting_py, synthetic

from core.backtest import run_backtest
from core.services.backtest import backtest_stop, make_backtest_risk


def ours(frame, path="auto"):
    """Run the default user path: configured risk engine checking every order, configured stops, ``path``."""
    risk = make_backtest_risk("configured")
    res = run_backtest(frame, "sma_cross", symbol="SYN", params={"fast": FAST, "slow": SLOW}, cash=CASH, commission=COMMISSION, risk=risk,
                       stop=backtest_stop("configured"), path=path)
    return res, len(res.decisions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--path", choices=["auto", "event"], default="auto")
    args = parser.parse_args()
    print(f"# risk-checked backtest (risk='configured', stop={backtest_stop('configured')}, path={args.path}), "
          f"SMA cross {FAST}/{SLOW}, commission {COMMISSION}, one-minute bars, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"load {os.getloadavg()[0]:.1f}")
    ours(synthetic(2_000), args.path)  # numba caches, imports
    backtesting_py(synthetic(2_000))  # the peer's imports too, so its first size is not charged for them
    rows = []
    for n in args.sizes:
        frame = synthetic(n)
        w0, c0 = time.perf_counter(), time.process_time()
        res, checks = ours(frame, args.path)
        w_ours, t_ours = time.perf_counter() - w0, time.process_time() - c0
        w0, c0 = time.perf_counter(), time.process_time()
        bt = backtesting_py(frame)
        w_bt, t_bt = time.perf_counter() - w0, time.process_time() - c0
        rows.append((n, t_ours, t_bt))
        print(f"{n:>9,} bars  ours cpu {t_ours:7.2f} s wall {w_ours:7.2f} s ({n / t_ours:9,.0f} bars/cpu-s, {checks:,} risk checks, "
              f"{res.report['trades']} trades, path {res.path})  backtesting.py cpu {t_bt:6.2f} s wall {w_bt:6.2f} s ({n / t_bt:9,.0f} bars/cpu-s, "
              f"{int(bt['# Trades'])} trades)  ours/bt speed {t_bt / t_ours:.3f}x  load {os.getloadavg()[0]:.1f}", flush=True)
    for (n1, a1, b1), (n2, a2, b2) in itertools.pairwise(rows):
        print(f"{n1:,} -> {n2:,}: cpu time ratio ours {a2 / a1:.2f} (bars ratio {n2 / n1:.1f}), marginal bars/cpu-s ours {(n2 - n1) / (a2 - a1):,.0f}, "
              f"backtesting.py {(n2 - n1) / (b2 - b1):,.0f}")


if __name__ == "__main__":
    main()
