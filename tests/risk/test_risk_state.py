"""Halts, the kill switch and the risk audit trail persist in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from core.domain import RiskAction, Side
from core.risk import KillSwitch, MarketState, OrderIntent, PortfolioState, RiskEngine, RiskLimits
from core.risk.state import MemoryStore, RiskState
from core.store import Store

RETS = MarketState(pd.DataFrame({"A": np.random.default_rng(0).normal(0, 0.01, 100)}))


def test_state_survives_a_restart(db_url, clock):
    store = Store(db_url, clock=clock)
    engine = RiskEngine(RiskLimits(), store, clock)
    down = PortfolioState(85_000.0, 85_000.0, 100_000.0, 100_000.0, {})
    assert engine.check(OrderIntent("A", Side.BUY, 1, 100.0), down, RETS).action is RiskAction.VETO
    KillSwitch(engine.state).engage(down, "drill", "ops")

    clock.advance(timedelta(days=2))  # a new day: the daily halt has expired, the others have not
    again = RiskEngine(RiskLimits(), Store(db_url, clock=clock), clock)
    status = again.state.status()
    assert status["kill_switch"]["engaged"] is True and status["kill_switch"]["actor"] == "ops"
    assert status["drawdown_halt"]["active"] is True and status["daily_halt"] is False
    flat = PortfolioState(100_000.0, 100_000.0, 100_000.0, 100_000.0, {})
    d = again.check(OrderIntent("A", Side.BUY, 1, 100.0), flat, RETS)
    assert d.action is RiskAction.VETO
    assert {c.split(":")[0] for c in d.checks if "halted" in c} == {"kill_switch", "drawdown"}
    KillSwitch(again.state).rearm("ops")
    again.reset_halt("ops", 100_000.0)
    assert again.check(OrderIntent("A", Side.BUY, 1, 100.0), flat, RETS).action is RiskAction.APPROVE
    entries = store.audit_log(kind="risk")
    assert sum(1 for e in entries if "action" in e.data) == 3
    assert {e.data.get("event") for e in entries} >= {"halt_drawdown", "halt_daily", "kill_switch_engaged", "kill_switch_re-armed", "reset_drawdown"}


class CountingStore(MemoryStore):
    """A MemoryStore that counts reads per key."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: dict[str, int] = {}

    def get_setting(self, key, default=None):
        self.reads[key] = self.reads.get(key, 0) + 1
        return super().get_setting(key, default)


def test_held_state_reads_each_setting_once_per_bar_and_sees_its_own_halts(clock):
    store = CountingStore()
    engine = RiskEngine(RiskLimits(), store, clock)
    flat = PortfolioState(100_000.0, 100_000.0, 100_000.0, 100_000.0, {})
    engine.state.hold()
    for _ in range(5):
        assert engine.check(OrderIntent("A", Side.BUY, 1, 100.0), flat, RETS).action is RiskAction.APPROVE
    assert set(store.reads.values()) == {1}, store.reads  # kill switch, drawdown, drift, daily: one read each
    down = PortfolioState(85_000.0, 85_000.0, 100_000.0, 100_000.0, {})
    assert engine.check(OrderIntent("A", Side.BUY, 1, 100.0), down, RETS).action is RiskAction.VETO  # latches the drawdown halt
    assert engine.check(OrderIntent("A", Side.BUY, 1, 100.0), flat, RETS).action is RiskAction.VETO  # seen within the bar
    RiskState(store, clock).set_kill_switch(True, "ops")  # engaged elsewhere (the app) during the bar
    assert engine.state.kill_switch()["engaged"] is False  # this bar keeps the state it read
    engine.state.release()
    assert engine.state.kill_switch()["engaged"] is True  # the next bar sees it
