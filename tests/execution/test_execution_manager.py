"""Order manager: risk hook, idempotent client IDs, emulation, reconciliation, persisted events."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from core.brokers import events as ev
from core.brokers.base import Capabilities, RetryableBrokerError
from core.brokers.events import OrderDenied
from core.brokers.paper import PAPER_CAPABILITIES, PaperBroker
from core.clock import FixedClock
from core.domain import Bar, Order, OrderStatus, OrderType, RiskAction, RiskDecision, Side
from core.engine import portfolio_state
from core.execution import repo
from core.execution.manager import OrderContext, OrderManager
from core.execution.repo import load_denials
from core.risk.hook import UNLIMITED, make_risk_check
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.types import MarketState
from core.store import Store

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class Rig:
    def __init__(self, caps=PAPER_CAPABILITIES, store=None, broker=None, **kw):
        self.clock = FixedClock(T0) if broker is None else broker.clock
        self.broker = broker or PaperBroker(self.clock, cash=100_000, capabilities=caps)
        kw.setdefault("risk_check", UNLIMITED)
        self.manager = OrderManager(self.broker, self.clock, store=store, **kw)
        self.day = 0

    def bar(self, o, h, lo, c, symbol="X"):
        self.clock.set(T0 + timedelta(days=self.day))
        self.day += 1
        bar = Bar(symbol, self.clock.now(), o, h, lo, c, 1e9)
        fills = self.broker.on_bar(bar)
        self.manager.on_bar(bar)
        return fills


class NoPush:
    """A view of a paper broker without push events: the manager must poll (like a REST venue)."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        if name == "subscribe":
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_submitting_the_same_client_id_twice_creates_one_order(sqlite_url, clock):
    store = Store(sqlite_url, clock=clock)
    rig = Rig(store=store)
    rig.bar(100, 101, 99, 100)
    a = rig.manager.submit(Order("cid-1", "X", Side.BUY, 10))
    b = rig.manager.submit(Order("cid-1", "X", Side.BUY, 99))
    assert a == b and len(rig.broker.orders()) == 1
    # After a restart the stored ID is still known: nothing new is sent.
    again = OrderManager(rig.broker, rig.clock, store=store, risk_check=UNLIMITED)
    again.submit(Order("cid-1", "X", Side.BUY, 99))
    assert len(rig.broker.orders()) == 1 and len(repo.load_orders(store, "paper")) == 1


def test_risk_hook_sees_every_new_order_veto_is_never_sent_and_shrink_is_sent_smaller(sqlite_url, clock):
    seen = []

    def risk(order, ctx):
        seen.append((order.client_order_id, type(ctx)))
        if order.client_order_id == "veto":
            return RiskDecision(RiskAction.VETO, 0, "max position exceeded", ("max_position",))
        if order.client_order_id == "shrink":
            return RiskDecision(RiskAction.SHRINK, 4, "position cap")
        return RiskDecision(RiskAction.APPROVE, order.quantity)

    rig = Rig(store=Store(sqlite_url, clock=clock), risk_check=risk)
    rig.bar(100, 101, 99, 100)
    vetoed = rig.manager.submit(Order("veto", "X", Side.BUY, 10))
    shrunk = rig.manager.submit(Order("shrink", "X", Side.BUY, 10))
    assert shrunk.quantity == 4 and shrunk.tags["risk_shrunk_from"] == 10
    rig.manager.submit_bracket(Order("br", "X", Side.BUY, 1), take_profit=120, stop_loss=90)
    assert vetoed.status is OrderStatus.REJECTED and vetoed.reason == "risk: max position exceeded"
    with pytest.raises(Exception, match="no paper order"):
        rig.broker.get_order("veto")
    assert rig.broker.get_order("shrink").quantity == 4
    assert [s[0] for s in seen] == ["veto", "shrink", "br", "br-tp", "br-sl"]
    assert all(s[1] is OrderContext for s in seen)
    events = rig.manager.events("veto")
    assert [(e.event, e.status, e.detail["reason"]) for e in events] == [("OrderDenied", OrderStatus.REJECTED, "max position exceeded")]
    assert rig.manager.denials == [OrderDenied("veto", "max position exceeded", "max_position", T0)]
    assert load_denials(rig.manager.store) == {"veto": OrderDenied("veto", "max position exceeded", "max_position", T0)}


def test_events_are_persisted_with_the_clock_timestamps(db_url):
    clock = FixedClock(T0)
    store = Store(db_url, clock=clock)
    rig = Rig(store=store, broker=PaperBroker(clock, cash=10_000))
    rig.bar(100, 101, 99, 100)
    rig.manager.submit(Order("m", "X", Side.BUY, 10))
    rig.bar(102, 103, 101, 102)
    stored = repo.load_events(store, "m")
    assert [(e.event, e.status, e.ts) for e in stored] == [
        ("OrderAccepted", OrderStatus.ACCEPTED, T0),
        ("OrderFilled", OrderStatus.FILLED, T0 + timedelta(days=1)),
    ]
    assert stored[1].detail["price"] == 102
    row = repo.load_order(store, "m")
    assert row.status is OrderStatus.FILLED and row.avg_fill_price == 102


BARS = [(100, 101, 99, 100), (101, 110, 99, 108), (107, 109, 106, 107), (108, 115, 107, 114), (113, 113.5, 108, 109)]


def _trail_fills(caps):
    rig = Rig(caps=caps)
    rig.bar(*BARS[0])
    rig.manager.submit(Order("b", "X", Side.BUY, 10))
    rig.bar(100, 100, 100, 100)
    rig.manager.submit(Order("t", "X", Side.SELL, 10, OrderType.TRAILING_STOP, trail_amount=5))
    for b in BARS[1:]:
        rig.bar(*b)
    return rig, [(f.price, f.quantity, f.ts) for f in rig.broker.fills() if f.side is Side.SELL]


def test_emulated_trailing_stop_on_a_stop_only_venue_fills_like_the_native_one():
    stops_only = Capabilities(order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP}))
    _, native = _trail_fills(PAPER_CAPABILITIES)
    rig, emulated = _trail_fills(stops_only)
    # Stop 95 -> 105 (high 110) -> 110 (high 115) -> hit by the low 108 of the last bar at 110.
    assert native == emulated == [(110, 10, T0 + timedelta(days=5))]
    t = rig.manager.get("t")
    assert t.status is OrderStatus.FILLED and t.avg_fill_price == 110 and t.tags["emulated"] == "trailing"
    assert rig.broker.get_order("t~stop").order_type is OrderType.STOP


def test_emulated_oco_cancels_the_sibling_after_a_fill():
    rig = Rig(caps=replace(PAPER_CAPABILITIES, oco=False))
    rig.bar(100, 100, 100, 100)
    rig.manager.submit(Order("b", "X", Side.BUY, 10))
    rig.bar(100, 100, 100, 100)
    take = Order("tp", "X", Side.SELL, 10, OrderType.LIMIT, limit_price=110)
    stop = Order("sl", "X", Side.SELL, 10, OrderType.STOP, stop_price=95)
    tp, sl = rig.manager.submit_oco(take, stop)
    assert tp.tags["emulated_oco"] == sl.tags["emulated_oco"] == "oco-tp"
    assert rig.broker.get_order("tp").oco_group is None  # sent as plain orders
    rig.bar(101, 111, 100, 109)
    assert rig.manager.get("tp").status is OrderStatus.FILLED
    assert rig.manager.get("sl").status is OrderStatus.CANCELED and rig.broker.get_order("sl").status is OrderStatus.CANCELED
    rig.bar(90, 91, 80, 85)  # would have hit the stop
    assert rig.broker.portfolio.quantity("X") == 0


def test_emulated_bracket_sends_exits_after_the_entry_fills():
    rig = Rig(caps=replace(PAPER_CAPABILITIES, oco=False, bracket=False))
    rig.bar(100, 100, 100, 100)
    rig.manager.submit_bracket(Order("e", "X", Side.BUY, 10, OrderType.LIMIT, limit_price=98), take_profit=104, stop_loss=95)
    with pytest.raises(Exception, match="no paper order"):
        rig.broker.get_order("e-tp")  # held by the manager
    rig.bar(99, 100, 97, 99)  # entry fills at 98; exits go out now
    assert rig.broker.get_order("e-tp").quantity == 10 and rig.broker.get_order("e-sl").stop_price == 95
    rig.bar(100, 105, 99, 104)
    assert rig.manager.get("e-tp").status is OrderStatus.FILLED
    assert rig.manager.get("e-sl").status is OrderStatus.CANCELED
    assert rig.broker.portfolio.trades[0].pnl == pytest.approx(60)


def test_reconcile_takes_the_broker_as_the_source_of_truth(sqlite_url, clock):
    store = Store(sqlite_url, clock=clock)
    paper = PaperBroker(clock, cash=100_000)
    venue = NoPush(paper)
    manager = OrderManager(venue, clock, store=store, risk_check=UNLIMITED)
    paper.on_bar(Bar("X", clock.now(), 100, 100, 100, 100, 1e9))
    manager.submit(Order("a", "X", Side.BUY, 5, OrderType.LIMIT, limit_price=90))
    manager.submit(Order("b", "X", Side.BUY, 5, OrderType.LIMIT, limit_price=99))
    # Behind the manager's back: a is canceled at the venue, b fills, c is placed by hand.
    paper.cancel("a")
    clock.advance(timedelta(days=1))
    paper.on_bar(Bar("X", clock.now(), 99.5, 100, 98, 99, 1e9))
    paper.submit(Order("c", "X", Side.SELL, 1, OrderType.LIMIT, limit_price=120))
    assert manager.get("a").status is OrderStatus.ACCEPTED  # stale until reconciled
    report = manager.reconcile()
    assert sorted(report.updated) == ["a", "b"] and report.adopted == ["c"] and report.missing == []
    assert manager.get("a").status is OrderStatus.CANCELED and manager.get("b").status is OrderStatus.FILLED
    assert report.positions[0].quantity == 5
    # A restarted manager against a venue that lost the order marks it missing.
    fresh = PaperBroker(clock)
    restarted = OrderManager(NoPush(fresh), clock, store=store, reconcile_on_start=False, risk_check=UNLIMITED)
    r2 = restarted.reconcile()
    assert r2.missing == ["c"] and restarted.get("c").status is OrderStatus.CANCELED
    assert [e.event for e in repo.load_events(store, "c")][-1] == "OrderReconciled"


class Flaky:
    """A venue whose first submit times out, after (or before) the order reached it."""

    def __init__(self, inner, reached):
        self.inner, self.reached, self.calls = inner, reached, 0

    def __getattr__(self, name):
        if name == "subscribe":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def submit(self, order):
        self.calls += 1
        if self.calls == 1:
            if self.reached:
                self.inner.submit(order)
            raise RetryableBrokerError("read timeout", retry_after=0.01)
        return self.inner.submit(order)


@pytest.mark.parametrize("reached", [True, False])
def test_retry_after_a_timeout_never_duplicates_the_order(clock, reached):
    paper = PaperBroker(clock)
    venue = Flaky(paper, reached)
    sleeps = []
    manager = OrderManager(venue, clock, sleep=sleeps.append, risk_check=UNLIMITED)
    order = manager.submit(Order("x", "X", Side.BUY, 1))
    assert order.status is OrderStatus.ACCEPTED and len(paper.orders()) == 1
    assert venue.calls == (1 if reached else 2) and sleeps == ([] if reached else [0.01])


def test_emulated_orders_survive_a_manager_restart(sqlite_url):
    """Trailing-stop and OCO emulation resume from the store: the fills match an uninterrupted run."""
    stops_only = Capabilities(order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP}), oco=False)
    clock = FixedClock(T0)
    store = Store(sqlite_url, clock=clock)
    paper = PaperBroker(clock, cash=100_000, capabilities=stops_only)
    rig = Rig(broker=NoPush(paper), store=store)
    rig.bar(*BARS[0])
    rig.manager.submit(Order("b", "X", Side.BUY, 10))
    rig.bar(100, 100, 100, 100)
    rig.manager.submit(Order("t", "X", Side.SELL, 10, OrderType.TRAILING_STOP, trail_amount=5))
    rig.manager.submit_oco(Order("o1", "X", Side.SELL, 1, OrderType.LIMIT, limit_price=114.5), Order("o2", "X", Side.SELL, 1, OrderType.LIMIT, limit_price=200))
    rig.bar(*BARS[1])
    rig.manager = OrderManager(rig.broker, clock, store=store, risk_check=UNLIMITED)  # restart: state comes back from the store
    for b in BARS[2:]:
        rig.bar(*b)
    sells = [(f.client_order_id, f.price, f.ts) for f in paper.fills() if f.side is Side.SELL]
    assert sells == [("o1", 114.5, T0 + timedelta(days=4)), ("t~stop", 110, T0 + timedelta(days=5))]
    assert rig.manager.get("t").status is OrderStatus.FILLED
    assert rig.manager.get("o2").status is OrderStatus.CANCELED


def _engine_rig(clock):
    paper = PaperBroker(clock, cash=100_000)
    engine = RiskEngine(RiskLimits(), clock=clock)
    days = pd.date_range(end=clock.now(), periods=60, freq="D")
    market = MarketState(returns=pd.DataFrame({"X": [0.01, -0.01] * 30}, index=days), prices={"X": 100.0})
    manager = OrderManager(paper, clock, risk_check=make_risk_check(
        engine, lambda: portfolio_state(paper.portfolio, clock.now()), lambda: market))
    paper.on_bar(Bar("X", clock.now(), 100, 101, 99, 100, 1e9))
    return paper, engine, manager


def test_replace_to_a_huge_quantity_is_checked_like_a_direct_send(clock):
    paper, _, manager = _engine_rig(clock)
    direct = manager.submit(Order("direct", "X", Side.BUY, 100_000, OrderType.LIMIT, limit_price=90))
    manager.cancel("direct")
    manager.submit(Order("small", "X", Side.BUY, 5, OrderType.LIMIT, limit_price=90))

    amended = manager.replace("small", quantity=100_000)

    # 5 % of 100,000 equity at the 90 limit: the engine allows what it allowed the direct send, not 100,000
    assert direct.quantity < 100
    assert amended.quantity == direct.quantity == paper.get_order("small").quantity


def test_replace_vetoed_by_the_risk_engine_leaves_the_order_unchanged(clock):
    paper, engine, manager = _engine_rig(clock)
    manager.submit(Order("small", "X", Side.BUY, 5, OrderType.LIMIT, limit_price=90))
    engine.state.set_kill_switch(True, actor="test", reason="test")

    kept = manager.replace("small", quantity=50, limit_price=95)

    assert (kept.quantity, kept.limit_price) == (5, 90) == (paper.get_order("small").quantity, paper.get_order("small").limit_price)
    last = manager.events("small")[-1]
    assert last.event == ev.REPLACE_REJECTED and "kill switch" in last.detail["reason"]


def test_the_emulator_sees_a_narrow_desk_not_the_manager(clock):
    """The emulator gets the operations of OrderDesk, never the manager (no access to its private state)."""
    import inspect

    from core.execution.emulation import OrderDesk

    manager = OrderManager(PaperBroker(clock, cash=10_000.0), clock, UNLIMITED)
    desk = manager.emulator.m
    assert not isinstance(desk, OrderManager)
    wanted = {n for n, _ in inspect.getmembers(OrderDesk) if not n.startswith("_")} | set(OrderDesk.__annotations__)
    offered = {n for n in dir(desk) if not n.startswith("_")}
    assert offered == wanted == {"broker", "last_prices", "get", "send", "replace", "cancel", "save", "record", "observe"}
    assert desk.broker is manager.broker and desk.last_prices is manager.last_prices
