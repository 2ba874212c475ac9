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
import cProfile
import hashlib
import os
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

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


def _count_writes(engine: Any) -> dict[str, int]:
    """Count SQL statements and COMMITs on ``engine`` (a commit that follows an INSERT/UPDATE/DELETE is a write commit)."""
    import sqlalchemy as sa

    counts = {"statements": 0, "write statements": 0, "commits": 0, "write commits": 0}
    dirty: set[int] = set()

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _statement(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        counts["statements"] += 1
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            counts["write statements"] += 1
            dirty.add(id(conn.connection.dbapi_connection))

    @sa.event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:
        counts["commits"] += 1
        key = id(conn.connection.dbapi_connection)
        if key in dirty:
            dirty.discard(key)
            counts["write commits"] += 1

    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--ticks", type=int, default=30)
    parser.add_argument("--profile", metavar="PATH", help="write cProfile stats (CPU clock) of the measured ticks to PATH")
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
    writes = _count_writes(ctx.store.engine)
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    rows = []
    for _ in range(args.ticks):
        loop.strategy.timings_.clear()
        writes.update(dict.fromkeys(writes, 0))
        if profiler:
            profiler.enable()
        c0 = time.process_time()
        report = loop.tick()
        cpu = (time.process_time() - c0) * 1000  # CPU ms of this process: less sensitive to other jobs on a shared machine
        if profiler:
            profiler.disable()
        rows.append({**{f"strategy.{k}": v for k, v in loop.strategy.timings_.items()}, **report.timings_ms, "total CPU (this process)": cpu,
                     "orders": report.orders, "fills": report.fills, **writes})
    if profiler:
        profiler.dump_stats(args.profile)
    table = pd.DataFrame(rows).fillna(0.0)
    order = ["strategy.features", "strategy.regime", "strategy.model", "strategy.signals", "strategy.orders", "risk", "match", "store", "total"]
    print(f"{args.symbols} symbols, {args.ticks} ticks of one bar, model {model_id} (tiny preset, trained in {train_s:.1f} s); "
          f"first tick (recovery, per-symbol regime fits) {first:.1f} s; load average {os.getloadavg()[0]:.1f}\n")
    print("| stage | p50 ms | p99 ms |\n|---|---:|---:|")
    counts = ["orders", "fills", "statements", "write statements", "commits", "write commits"]
    for col in [c for c in order if c in table] + [c for c in table if c not in order and c not in counts and c != "bars"]:
        print(f"| {col} | {table[col].median():.1f} | {table[col].quantile(0.99):.1f} |")
    print("\n| per tick | median | max | total |\n|---|---:|---:|---:|")
    for col in counts:
        print(f"| {col} | {table[col].median():.0f} | {table[col].max():.0f} | {table[col].sum():.0f} |")
    orders = loop.manager.orders()
    fills = loop.broker.fills()
    # What was traded, as one hash: two versions of the code that trade the same print the same digest.
    traded = [(o.client_order_id, str(o.status), round(o.filled_quantity, 9), round(o.avg_fill_price or 0.0, 9)) for o in orders]
    traded += [(f.client_order_id, round(f.quantity, 9), round(f.price, 9), round(f.fee, 9)) for f in fills]
    digest = hashlib.sha256(repr(traded).encode()).hexdigest()[:16]
    print(f"\norders so far: {len(orders)}, fills: {len(fills)}, equity {loop.broker.portfolio.equity():,.2f}, orders+fills sha256 {digest}")


if __name__ == "__main__":
    main()
