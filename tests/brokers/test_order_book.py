"""The order book hands per-tick code the orders added since a count, without copying the whole history."""

from __future__ import annotations

from core.brokers.book import OrderBook
from core.domain import Order, OrderStatus, Side


def test_since_returns_the_orders_added_after_the_first_n_in_their_latest_state() -> None:
    book = OrderBook()
    a, b, c = (Order(cid, "AAPL", Side.BUY, 1) for cid in ("a", "b", "c"))
    book["a"], book["b"] = a, b
    n = len(book)
    book["a"] = a.evolve(status=OrderStatus.FILLED, filled_quantity=1)  # an update is not a new order
    book["c"] = c
    assert [o.client_order_id for o in book.since(n)] == ["c"]
    assert [(o.client_order_id, o.status) for o in book.since(0)] == [("a", OrderStatus.FILLED), ("b", OrderStatus.NEW), ("c", OrderStatus.NEW)]
    assert book.since(3) == [] and [o.client_order_id for o in book.open_orders()] == ["b", "c"]
