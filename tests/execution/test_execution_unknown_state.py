"""An order whose state is unknown goes to reconciliation, never to a resend.

The venue accepts the order, the connection drops before the reply, and every
lookup by client ID then times out: the adapter raises ``OrderStateUnknown``.
The order manager must not send the order again (Kite tags are not unique keys
and Binance accepts a reused client ID once the first order is closed); the
next reconcile, once the venue answers, settles it. Counted at the fake venue,
through the real client libraries.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes.kits import VENUES, Kit, make_kit

from core.brokers import events as ev
from core.brokers.paper import PaperBroker
from core.brokers.retry import OrderStateUnknown
from core.clock import FixedClock
from core.domain import Bar, Order, OrderStatus, OrderType, Side
from core.execution.manager import OrderManager
from core.risk.hook import UNLIMITED

T0 = datetime(2024, 1, 2, tzinfo=UTC)
LOOKUPS = 12  # more failing lookups than the adapter and the manager together make before giving up


class CountingBroker:
    """The adapter, counting how often the manager asks it to send an order."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.sends: list[str] = []

    def submit(self, order: Order) -> Order:
        self.sends.append(order.client_order_id)
        return self._inner.submit(order)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture(params=VENUES)
def kit(request: pytest.FixtureRequest) -> Iterator[Kit]:
    k = make_kit(request.param)
    yield k
    k.fake.stop()


def test_unknown_state_is_reconciled_never_resent(kit: Kit) -> None:
    broker = CountingBroker(kit.broker(timeout=0.1))
    broker.open_orders()  # warm up (Binance loads its markets with a GET)
    manager = OrderManager(broker, FixedClock(T0), risk_check=UNLIMITED, context_fn=lambda order: None, sleep=lambda s: None)
    checks_first = kit.name != "alpaca"  # Binance and Kite ask the venue before the first send
    kit.fake.inject("drop", *kit.order_post)  # placed, then the connection drops before the reply
    kit.fake.inject("timeout", "GET", None, times=LOOKUPS, skip=int(checks_first), delay=0.2)

    pending = manager.submit(Order("unk1", kit.symbol, Side.BUY, kit.qty, time_in_force=kit.tif))

    assert broker.sends == ["unk1"]  # handed to reconciliation, not sent again
    assert kit.fake.count(*kit.order_post) == 1
    assert pending.status is OrderStatus.NEW and not pending.status.is_terminal
    assert "unknown" in (pending.reason or "")
    assert [e.event for e in manager.events("unk1")][-1] == ev.STATE_UNKNOWN

    kit.fake.faults.clear()  # the venue answers again
    report = manager.reconcile()

    assert report.updated == ["unk1"]
    settled = manager.get("unk1")
    assert settled is not None and settled.status is OrderStatus.FILLED
    assert settled.filled_quantity == pytest.approx(kit.qty)
    assert kit.count("unk1") == 1  # exactly one order at the venue
    assert broker.sends == ["unk1"]


class LostReply:
    """A paper venue whose first submit fails with an unknown outcome (placed or not, as asked)."""

    def __init__(self, inner: Any, placed: bool) -> None:
        self.inner, self.placed, self.sends = inner, placed, 0

    def submit(self, order: Order) -> Order:
        self.sends += 1
        if self.sends == 1:
            if self.placed:
                self.inner.submit(order)
            raise OrderStateUnknown("reply lost and the venue cannot be asked")
        return self.inner.submit(order)

    def __getattr__(self, name: str) -> Any:
        if name == "subscribe":  # a REST venue: the manager polls
            raise AttributeError(name)
        return getattr(self.inner, name)


@pytest.mark.parametrize("placed", [True, False])
def test_polling_settles_an_unknown_order_either_way(placed: bool) -> None:
    clock = FixedClock(T0)
    paper = PaperBroker(clock, cash=100_000)
    venue = LostReply(paper, placed)
    manager = OrderManager(venue, clock, risk_check=UNLIMITED, sleep=lambda s: None)
    paper.on_bar(Bar("X", T0, 100, 101, 99, 100, 1e6))

    manager.submit(Order("u1", "X", Side.BUY, 5, OrderType.LIMIT, limit_price=90))
    manager.sync()  # what every bar does

    assert venue.sends == 1
    settled = manager.get("u1")
    assert settled is not None
    if placed:
        assert settled.status is OrderStatus.ACCEPTED and len(paper.orders()) == 1
    else:  # the venue confirms it never got it: closed, not left open forever
        assert settled.status is OrderStatus.CANCELED and settled.reason == "never reached the venue" and paper.orders() == []
