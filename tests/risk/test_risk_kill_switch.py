"""The kill switch flattens a multi-asset book and halts trading until re-armed, across restarts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from core import services
from core.domain import Order, OrderType, RiskAction, Side
from core.risk.hook import make_risk_check
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.types import MarketState, OrderIntent, PortfolioState


@dataclass
class FakeBroker:
    """A minimal broker: market orders fill at once at the quoted price; it keeps positions and cash."""

    prices: dict[str, float]
    cash: float
    positions: dict[str, float] = field(default_factory=dict)
    fills: list[tuple[str, str, float, float]] = field(default_factory=list)

    def submit(self, order: Order) -> None:
        assert order.order_type is OrderType.MARKET
        px = self.prices[order.symbol]
        signed = order.quantity * order.side.sign
        self.positions[order.symbol] = self.positions.get(order.symbol, 0.0) + signed
        self.cash -= signed * px
        self.fills.append((order.client_order_id, order.symbol, signed, px))

    def state(self) -> PortfolioState:
        book = {s: (q, self.prices[s]) for s, q in self.positions.items() if abs(q) > 1e-12}
        equity = self.cash + sum(q * p for q, p in book.values())
        return PortfolioState(equity, self.cash, equity, equity, book)


@pytest.fixture
def market() -> MarketState:
    rng = np.random.default_rng(1)
    rets = pd.DataFrame(rng.normal(0, 0.01, (120, 4)), columns=["AAPL", "MSFT", "IBM", "BTC-USD"])
    return MarketState(rets, prices={"AAPL": 150.0, "MSFT": 300.0, "IBM": 120.0, "BTC-USD": 40_000.0})


def send(engine: RiskEngine, broker: FakeBroker, market: MarketState, intent: OrderIntent) -> RiskAction:
    """The order manager's path: every order goes through the risk hook before the broker."""
    hook = make_risk_check(engine, broker.state, lambda: market)
    order = Order(intent.client_order_id or f"o-{len(broker.fills)}", intent.symbol, intent.side, intent.quantity, intent.order_type)
    decision = hook(order, None)
    if decision.allowed:
        broker.submit(order.evolve(quantity=decision.quantity))
    return decision.action


def test_kill_switch_flattens_a_multi_asset_book_and_halts_until_rearmed(ctx, market):
    limits = RiskLimits.from_settings(ctx.settings.risk, max_position_pct=0.2, var_budget_pct=0.5)
    engine = RiskEngine(limits, ctx.store, ctx.clock)
    broker = FakeBroker(dict(market.prices), cash=1_000_000.0)
    # Build a long/short, equity + crypto book through the same path.
    for intent in (
        OrderIntent("AAPL", Side.BUY, 100, 150.0),
        OrderIntent("MSFT", Side.SELL, 50, 300.0),
        OrderIntent("IBM", Side.BUY, 200, 120.0),
        OrderIntent("BTC-USD", Side.BUY, 0.75, 40_000.0),
    ):
        assert send(engine, broker, market, intent) is RiskAction.APPROVE
    assert broker.positions == {"AAPL": 100, "MSFT": -50, "IBM": 200, "BTC-USD": 0.75}

    orders = services.engage_kill_switch(broker.state(), reason="test drill", actor="ops", ctx=ctx)
    assert [(o.symbol, o.side, o.quantity) for o in orders] == [
        ("AAPL", Side.SELL, 100),
        ("BTC-USD", Side.SELL, 0.75),
        ("IBM", Side.SELL, 200),
        ("MSFT", Side.BUY, 50),
    ]
    assert all(o.order_type is OrderType.MARKET and o.client_order_id.startswith("kill-") for o in orders)
    for o in orders:
        assert send(engine, broker, market, o) is RiskAction.APPROVE
    assert all(abs(q) < 1e-12 for q in broker.positions.values())
    assert broker.state().equity == pytest.approx(1_000_000.0)

    # Halted: new risk is vetoed, also by an engine built after a restart.
    assert send(engine, broker, market, OrderIntent("AAPL", Side.BUY, 1, 150.0)) is RiskAction.VETO
    restarted = RiskEngine(limits, ctx.store, ctx.clock)
    assert send(restarted, broker, market, OrderIntent("IBM", Side.SELL, 1, 120.0)) is RiskAction.VETO
    assert ctx.store.get_setting("risk.kill_switch")["engaged"] is True
    assert services.risk_status(ctx)["kill_switch"]["actor"] == "ops"

    services.rearm_kill_switch("ops", ctx=ctx)
    assert send(restarted, broker, market, OrderIntent("AAPL", Side.BUY, 1, 150.0)) is RiskAction.APPROVE
    events = [r.data.get("event") for r in ctx.store.audit_log(kind="risk") if r.data.get("event")]
    assert events[:2] == ["kill_switch_re-armed", "kill_switch_engaged"]


def test_engaging_on_a_flat_book_returns_no_orders_but_still_halts(ctx):
    flat = PortfolioState(1000.0, 1000.0, 1000.0, 1000.0, {"X": (0.0, 10.0)})
    assert services.engage_kill_switch(flat, ctx=ctx) == []
    assert services.risk_status(ctx)["kill_switch"]["engaged"] is True
