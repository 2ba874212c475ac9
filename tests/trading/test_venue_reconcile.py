"""Reconciliation after a simulated restart: a new adapter instance rebuilds the store from the venue.

The one reconciler (:func:`core.trading.venue.reconcile_account`) is the loop's per-tick one, run
over the stored account.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.kits import VENUES, Kit, make_kit
from sqlmodel import select

from core.domain import Order, OrderStatus, OrderType, Side
from core.portfolio import repo as portfolio_repo
from core.services import Context
from core.store.tables import FillRow, OrderEventRow, OrderRow, PositionRow
from core.trading.venue import reconcile_account as reconcile


@pytest.fixture(params=VENUES)
def kit(request: pytest.FixtureRequest) -> Iterator[Kit]:
    k = make_kit(request.param)
    yield k
    k.fake.stop()


def _rows(ctx: Context, table: type) -> list:
    with ctx.store.session() as s:
        return list(s.exec(select(table)))


def test_restart_reconciles_orders_fills_and_positions(kit: Kit, ctx: Context) -> None:
    q = kit.qty
    first = kit.broker()
    first.submit(Order("rc1", kit.symbol, Side.BUY, q, time_in_force=kit.tif))
    first.submit(Order("rc2", kit.symbol, Side.BUY, q, OrderType.LIMIT, limit_price=kit.below, time_in_force=kit.tif))
    kit.fake.partial_next = 0.5
    first.submit(Order("rc3", kit.symbol, Side.BUY, q, OrderType.LIMIT, limit_price=kit.price * 1.01, time_in_force=kit.tif))

    r1 = reconcile(first, ctx.store, account="acct")

    assert (sorted(r1["adopted"]), r1["new_fills"]) == (["rc1", "rc2", "rc3"], 2)
    status = {r.client_order_id: r.status for r in _rows(ctx, OrderRow)}
    assert status == {"rc1": "filled", "rc2": "accepted", "rc3": "partially_filled"}
    [pos] = _rows(ctx, PositionRow)
    assert pos.quantity == pytest.approx(1.5 * q)

    # The process stops; meanwhile the price falls and the venue fills what was resting.
    kit.set_price(kit.below * 0.99)
    extra = {"symbols": [kit.symbol]} if kit.name == "binance" else {}
    restarted = kit.broker(**extra)  # knows nothing from the first session
    assert restarted.open_orders() == []

    r2 = reconcile(restarted, ctx.store, account="acct")

    assert (r2["adopted"], sorted(r2["updated"]), r2["new_fills"]) == ([], ["rc2", "rc3"], 2)
    assert {r.client_order_id: r.status for r in _rows(ctx, OrderRow)} == dict.fromkeys(("rc1", "rc2", "rc3"), "filled")
    fills = _rows(ctx, FillRow)
    assert len(fills) == 4 and sum(f.quantity for f in fills) == pytest.approx(3 * q)
    assert {f.client_order_id for f in fills} == {"rc1", "rc2", "rc3"}
    [pos] = _rows(ctx, PositionRow)
    assert pos.quantity == pytest.approx(3 * q)
    events = [(e.client_order_id, e.status) for e in _rows(ctx, OrderEventRow)]
    assert ("rc2", "filled") in events and ("rc3", "filled") in events  # each change is an event

    r3 = reconcile(restarted, ctx.store, account="acct")  # nothing new: reconciliation is idempotent
    assert r3 == {"updated": [], "missing": [], "adopted": [], "new_fills": 0, "differences": []}
    assert len(_rows(ctx, FillRow)) == 4


def test_new_instance_sees_open_orders_under_our_client_ids(kit: Kit) -> None:
    kit.broker().submit(Order("open1", kit.symbol, Side.BUY, kit.qty, OrderType.LIMIT, limit_price=kit.below, time_in_force=kit.tif))
    restarted = kit.broker()
    [o] = restarted.open_orders()
    assert (o.client_order_id, o.status, o.limit_price) == ("open1", OrderStatus.ACCEPTED, kit.below)
    assert restarted.cancel("open1").status is OrderStatus.CANCELED


def test_reconcile_writes_the_same_rows_on_sqlite_and_postgresql(db_url: str, clock) -> None:
    from core.store import Store

    store = Store(db_url, clock=clock)
    k = make_kit("alpaca")
    try:
        b = k.broker()
        b.submit(Order("pg1", "AAPL", Side.BUY, 10))
        b.submit(Order("pg2", "AAPL", Side.BUY, 5, OrderType.LIMIT, limit_price=180.0))
        report = reconcile(b, store, account="pg")
    finally:
        k.fake.stop()
    assert (sorted(report["adopted"]), report["new_fills"]) == (["pg1", "pg2"], 1)
    assert portfolio_repo.load_state(store, "pg").cash == pytest.approx(100_000 - 1_900)
    with store.session() as s:
        rows = {r.client_order_id: (r.status, r.filled_quantity) for r in s.exec(select(OrderRow))}
        [pos] = s.exec(select(PositionRow)).all()
    assert rows == {"pg1": ("filled", 10.0), "pg2": ("accepted", 0.0)}
    assert (pos.account, pos.symbol, pos.quantity, pos.avg_price) == ("pg", "AAPL", 10.0, 190.0)
