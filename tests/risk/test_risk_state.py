"""Halts, the kill switch and the risk audit trail persist in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from core.domain import RiskAction, Side
from core.risk import KillSwitch, MarketState, OrderIntent, PortfolioState, RiskEngine, RiskLimits
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
