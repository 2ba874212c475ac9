"""Kill the standalone host with SIGKILL mid-tick again and again; nothing may be lost or doubled."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from core.backtest.run import run_backtest
from core.config import load_settings
from core.engine import StopPolicy
from core.execution import repo as order_repo
from core.portfolio import repo as portfolio_repo
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.state import MemoryStore
from core.services import Context, risk_limits, trading_loop
from core.trading import toggle

ROOT = Path(__file__).resolve().parents[2]
KILLS = 20
TRADING = {"strategy": "sma_cross", "symbols": ["AAPL", "MSFT"], "warmup_bars": 100, "bars_per_tick": 3, "commission": 0.0005}


@pytest.mark.slow
def test_sigkill_during_ticks_loses_and_doubles_nothing(tmp_path):
    db = f"sqlite:///{tmp_path / 'loop.db'}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("APP__")},
        "APP__STORE__DATABASE_URL": db, "APP__LOG__DIR": str(tmp_path / "logs"), "APP__SCHEDULER__TICK_SECONDS": "0.05",
        "APP__TRADING__STRATEGY": "sma_cross", "APP__TRADING__SYMBOLS": '["AAPL", "MSFT"]', "APP__TRADING__WARMUP_BARS": "100",
        "APP__TRADING__BARS_PER_TICK": "3", "APP__TRADING__COMMISSION": "0.0005", "APP__TRADING__LEASE_SECONDS": "1",
    }  # fmt: skip
    settings = load_settings(env_file=str(tmp_path / "none.env"), store={"database_url": db}, log={"dir": str(tmp_path / "logs")},
                             scheduler={"embedded": False}, trading={**TRADING, "lease_seconds": 1})
    ctx = Context.create(settings)
    toggle.set_enabled(ctx.store, True)
    rng = random.Random(20261125)
    progress = []
    for _ in range(KILLS):
        before = ctx.store.get_setting("loop.paper.last_bar")
        proc = subprocess.Popen([sys.executable, "-m", "jobs"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Wait until this host is ticking (start-up time varies with machine load), then kill it
        # at a random moment: with ticks every 50 ms of a few bars each, that is almost always mid-tick.
        deadline = time.monotonic() + 90
        while ctx.store.get_setting("loop.paper.last_bar") == before and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        progress.append(ctx.store.get_setting("loop.paper.last_bar"))
        time.sleep(1.05)  # the dead host's lease expires (lease_seconds=1)
    mismatches = [a.data for a in ctx.store.audit_log(kind="recovery_mismatch")]
    assert mismatches == []
    assert len({p for p in progress if p}) == KILLS, f"every host should have made progress before its kill: {progress}"

    # A last host finishes the job in-process; recovery checks the rebuilt state against the store.
    loop = trading_loop(ctx)
    loop.tick()
    assert ctx.store.audit_log(kind="recovery_mismatch") == []
    last = loop.last_processed

    # None lost, none doubled: the orders and fills are exactly those of an uninterrupted backtest.
    frames = {s: ctx.sample.bars(s).loc[:last] for s in TRADING["symbols"]}
    risk = RiskEngine(RiskLimits.from_settings(risk_limits(ctx)), store=MemoryStore())
    bt = run_backtest(frames, "sma_cross", cash=100_000.0, commission=0.0005, risk=risk, warmup=100, baseline=False,
                      stop=StopPolicy.from_settings(risk_limits(ctx).stop))
    stored = order_repo.load_orders(ctx.store, "paper")
    ids = [o.client_order_id for o in stored]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(o.client_order_id for o in bt.orders)
    by_id = {o.client_order_id: o for o in stored}
    for o in bt.orders:
        assert (by_id[o.client_order_id].status, by_id[o.client_order_id].filled_quantity) == (o.status, o.filled_quantity)
    fills = portfolio_repo.load_fills(ctx.store, "paper")
    assert sorted((f.client_order_id, f.quantity, round(f.price, 9)) for f in fills) == sorted(
        (f.client_order_id, f.quantity, round(f.price, 9)) for f in bt.fills)
    # Positions and cash in the store equal what the (rebuilt) paper broker reports.
    state = portfolio_repo.load_state(ctx.store, "paper")
    assert state.cash == pytest.approx(loop.broker.portfolio.cash, rel=1e-12)
    assert {s: p.quantity for s, p in state.positions.items() if p.quantity} == {
        s: p.quantity for s, p in loop.broker.portfolio.positions.items() if p.quantity}
    # The equity curve is continuous: one point for every bar from the first to the last processed.
    curve = pd.Series({p.ts: p.equity for p in portfolio_repo.load_equity(ctx.store, "paper")})
    expected = loop.feed.calendar[(loop.feed.calendar > loop.feed.calendar[99]) & (loop.feed.calendar <= last)]
    assert list(curve.index) == list(expected.to_pydatetime())
    assert curve.iloc[-1] == pytest.approx(bt.equity.iloc[-1], rel=1e-12)
