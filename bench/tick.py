"""One trading tick for N symbols on the paper broker with a trained ensemble: latency per stage.

    .venv/bin/python bench/tick.py [--symbols 50] [--ticks 30]

Synthetic seeded random-walk daily bars (so any symbol count works), a model trained
with the "tiny" preset on bars strictly before the session, then ``--ticks`` ticks of one
bar each through the whole pipeline (features, regime, ensemble, signals, Kelly, risk,
order manager, paper broker, one database transaction). The first tick (model and
regime fitting, recovery) is reported separately. Prints p50/p99 per stage in ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def synthetic(symbol: str, n: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(zlib.crc32(symbol.encode()))  # stable across processes (str hash is salted per process)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, n)))
    open_ = close * np.exp(rng.normal(0, 0.003, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    idx = pd.bdate_range("2015-01-01", periods=n, tz="UTC", name="ts")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": rng.uniform(1e5, 1e6, n)}, index=idx)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--ticks", type=int, default=30)
    args = parser.parse_args()
    from core import services
    from core.config import load_settings
    from core.services import Context, set_context, trading_loop
    from core.trading import toggle

    tmp = tempfile.mkdtemp()
    symbols = [f"SYN{i:03d}" for i in range(args.symbols)]
    frames = {s: synthetic(s) for s in symbols}
    warmup = 700
    settings = load_settings(store={"database_url": f"sqlite:///{tmp}/bench.db"}, log={"dir": tmp}, scheduler={"embedded": False},
                             trading={"strategy": "ensemble", "symbols": symbols, "warmup_bars": warmup, "bars_per_tick": 1,
                                      "params": {"allow_short": True, "min_probability": 0.5}})
    ctx = Context.create(settings)
    ctx.extras["models_dir"] = tmp
    set_context(ctx)
    t0 = time.perf_counter()
    pre = {s: f.iloc[:warmup] for s, f in list(frames.items())[:10]}
    model_id = services.train(list(pre), horizon=5, preset="tiny", bars=pre, n_jobs=1, ctx=ctx)["model_id"]
    train_s = time.perf_counter() - t0
    toggle.set_enabled(ctx.store, True)
    loop = trading_loop(ctx, load=frames.__getitem__)
    t0 = time.perf_counter()
    loop.tick()
    first = time.perf_counter() - t0
    rows = []
    for _ in range(args.ticks):
        loop.strategy.timings_.clear()
        c0 = time.process_time()
        report = loop.tick()
        cpu = (time.process_time() - c0) * 1000  # CPU ms of this process: less sensitive to other jobs on a shared machine
        rows.append({**{f"strategy.{k}": v for k, v in loop.strategy.timings_.items()}, **report.timings_ms, "total CPU (this process)": cpu})
    table = pd.DataFrame(rows).fillna(0.0)
    order = ["strategy.features", "strategy.regime", "strategy.model", "strategy.signals", "strategy.orders", "risk", "match", "store", "total"]
    print(f"{args.symbols} symbols, {args.ticks} ticks of one bar, model {model_id} (tiny preset, trained in {train_s:.1f} s); "
          f"first tick (recovery, per-symbol regime fits) {first:.1f} s; load average {os.getloadavg()[0]:.1f}\n")
    print("| stage | p50 ms | p99 ms |\n|---|---:|---:|")
    for col in [c for c in order if c in table] + [c for c in table if c not in order and c != "bars"]:
        print(f"| {col} | {table[col].median():.1f} | {table[col].quantile(0.99):.1f} |")
    orders = len(loop.manager.orders())
    print(f"\norders so far: {orders}, fills: {len(loop.broker.fills())}")


if __name__ == "__main__":
    main()
