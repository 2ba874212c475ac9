"""Benchmark: the strategy library on bundled AAPL (3,260 daily bars), our engine vs backtesting.py.

For each library strategy, in one run on the same bars: the look-ahead check, our event-driven
backtest after the check (signals evaluated once on the frame), the same backtest evaluated bar
by bar on the warm-up window (what the paper loop does per bar), and the independent
backtesting.py implementation from ``tests/strategies/test_library_parity.py`` (final equities
printed as a sanity check: they agree). Run: ``.venv/bin/python bench/strategies.py [--window-bars N]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")

from backtesting import Backtest  # noqa: E402

from core.backtest import run_backtest  # noqa: E402
from core.engine import UNLIMITED  # noqa: E402
from core.strategies.catalog import library_strategies  # noqa: E402
from tests.strategies.test_library_parity import CASES, CASH, COMMISSION  # noqa: E402


def _time(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window-bars", type=int, default=600, help="bars for the bar-by-bar (window) run, which is the slow one")
    args = parser.parse_args()
    bars = pd.read_parquet(ROOT / "data/sample/AAPL__1d.parquet")
    peer_bars = bars.rename(columns=str.capitalize).tz_localize(None)
    lib = library_strategies()
    print(f"Python {platform.python_version()}, {platform.machine()}; AAPL {len(bars)} bars; window run on the last {args.window_bars}")
    print("| strategy | check [s] | ours, checked [ms] | ours, bar by bar [ms/bar] | backtesting.py [ms] | final equity ours / peer |")
    print("|---|---:|---:|---:|---:|---|")
    for name in sorted(CASES):
        ref, overrides = CASES[name]
        strat = lib[name](**overrides)
        check, t_check = _time(lambda s=strat: s.prepare({"AAPL": bars}))
        ours, t_ours = _time(lambda s=strat: run_backtest(bars, s, symbol="AAPL", cash=CASH, commission=COMMISSION, path="event", baseline=False,
                                                          risk=UNLIMITED))
        tail = bars.iloc[-args.window_bars :]
        fresh = lib[name](**overrides)  # never prepared: evaluated on the warm-up window at every bar
        _, t_win = _time(lambda t=tail, s=fresh: run_backtest(t, s, symbol="AAPL", cash=CASH, commission=COMMISSION, path="event", baseline=False,
                                                             risk=UNLIMITED))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            peer, t_peer = _time(lambda r=ref: Backtest(peer_bars, r, cash=CASH, commission=COMMISSION, exclusive_orders=True).run())
        assert check.ok
        print(f"| {name} | {t_check:.2f} | {t_ours * 1000:.0f} | {t_win * 1000 / len(tail):.2f} | {t_peer * 1000:.0f} | "
              f"{ours.report['final_equity']:,.2f} / {peer['Equity Final [$]']:,.2f} |")


if __name__ == "__main__":
    main()
