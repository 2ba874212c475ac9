"""Alpaca adapter through alpaca-py against the local fake: every order type and class, cancel, replace, data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fakes.kits import Kit, make_kit

from core.brokers.alpaca import AlpacaBroker
from core.brokers.base import Broker, OrderRejected, RetryableBrokerError
from core.domain import AssetClass, Order, OrderStatus, OrderType, Side, TimeInForce


@pytest.fixture
def kit() -> Iterator[Kit]:
    k = make_kit("alpaca")
    yield k
    k.fake.stop()


def test_adapter_satisfies_the_broker_protocol(kit: Kit) -> None:
    assert isinstance(kit.broker(), Broker)


def test_market_order_fills_and_updates_cash_and_position(kit: Kit) -> None:
    b = kit.broker()
    o = b.submit(Order("m1", "AAPL", Side.BUY, 10, time_in_force=TimeInForce.DAY))
    assert (o.status, o.filled_quantity, o.avg_fill_price) == (OrderStatus.FILLED, 10, 190.0)
    sent = kit.fake.orders[0]
    assert (sent["client_order_id"], sent["type"], sent["time_in_force"]) == ("m1", "market", "day")
    assert b.balances()[0].total == pytest.approx(100_000 - 10 * 190.0)
    [pos] = b.positions()
    assert (pos.symbol, pos.quantity, pos.avg_price, pos.last_price) == ("AAPL", 10, 190.0, 190.0)


@pytest.mark.parametrize(
    ("order", "wire"),
    [
        (Order("l1", "AAPL", Side.BUY, 5, OrderType.LIMIT, limit_price=180.0), {"type": "limit", "limit_price": "180"}),
        (Order("s1", "AAPL", Side.BUY, 5, OrderType.STOP, stop_price=200.0), {"type": "stop", "stop_price": "200"}),
        (Order("sl1", "AAPL", Side.BUY, 5, OrderType.STOP_LIMIT, stop_price=200.0, limit_price=201.0),
         {"type": "stop_limit", "stop_price": "200", "limit_price": "201"}),
        (Order("t1", "AAPL", Side.BUY, 5, OrderType.TRAILING_STOP, trail_percent=2.0), {"type": "trailing_stop", "trail_percent": "2"}),
    ],
    ids=["limit", "stop", "stop_limit", "trailing_stop"],
)
def test_resting_order_types_reach_the_wire_and_stay_open(kit: Kit, order: Order, wire: dict) -> None:
    b = kit.broker()
    placed = b.submit(order)
    sent = kit.fake.orders[0]
    assert {k: sent[k] for k in wire} == wire
    assert placed.status is OrderStatus.ACCEPTED and placed.order_type is order.order_type
    assert [o.client_order_id for o in b.open_orders()] == [order.client_order_id]


def test_trailing_stop_sell_follows_the_high_and_fires(kit: Kit) -> None:
    b = kit.broker()
    b.submit(Order("buy", "AAPL", Side.BUY, 5))
    b.submit(Order("trail", "AAPL", Side.SELL, 5, OrderType.TRAILING_STOP, trail_amount=2.0))
    kit.fake.set_price("AAPL", 195.0)  # high water mark 195 -> stop 193
    assert b.get_order("trail").stop_price == pytest.approx(193.0)
    kit.fake.set_price("AAPL", 192.5)
    done = b.get_order("trail")
    assert (done.status, done.avg_fill_price) == (OrderStatus.FILLED, 192.5)


def test_bracket_order_opens_two_exit_legs_and_one_cancels_the_other(kit: Kit) -> None:
    b = kit.broker()
    parent = b.submit(Order("br1", "AAPL", Side.BUY, 10, tags={"take_profit": 200.0, "stop_loss": 185.0}))
    assert parent.status is OrderStatus.FILLED and parent.tags["order_class"] == "bracket"
    legs = {o.client_order_id: o for o in b.open_orders()}
    assert set(legs) == {"br1:take_profit", "br1:stop_loss"}
    assert legs["br1:take_profit"].limit_price == 200.0 and legs["br1:stop_loss"].stop_price == 185.0
    assert all(leg.parent_id == "br1" for leg in legs.values())
    kit.fake.set_price("AAPL", 201.0)
    assert b.get_order("br1:take_profit").status is OrderStatus.FILLED
    assert b.get_order("br1:stop_loss").status is OrderStatus.CANCELED
    assert b.positions() == []


def test_oco_exit_for_an_existing_position(kit: Kit) -> None:
    b = kit.broker()
    b.submit(Order("open", "AAPL", Side.BUY, 10))
    b.submit(Order("oco1", "AAPL", Side.SELL, 10, OrderType.LIMIT, tags={"order_class": "oco", "take_profit": 200.0, "stop_loss": 180.0}))
    assert kit.fake.orders[1]["order_class"] == "oco"
    kit.fake.set_price("AAPL", 179.0)
    assert b.get_order("oco1:stop_loss").status is OrderStatus.FILLED
    assert b.get_order("oco1").status is OrderStatus.CANCELED


def test_replace_keeps_our_client_id_and_cancel_finalises(kit: Kit) -> None:
    b = kit.broker()
    first = b.submit(Order("r1", "AAPL", Side.BUY, 5, OrderType.LIMIT, limit_price=180.0))
    new = b.replace("r1", limit_price=181.0, quantity=6)
    assert (new.client_order_id, new.limit_price, new.quantity) == ("r1", 181.0, 6)
    assert new.broker_order_id != first.broker_order_id  # Alpaca makes a new order and marks the old one replaced
    assert b.get_order("r1").broker_order_id == new.broker_order_id
    assert b.cancel("r1").status is OrderStatus.CANCELED


def test_invalid_order_is_refused_locally_without_a_request(kit: Kit) -> None:
    with pytest.raises(OrderRejected):
        kit.broker().submit(Order("bad", "AAPL", Side.BUY, 5, OrderType.TRAILING_STOP))  # neither trail price nor percent
    assert kit.fake.count("POST", "/v2/orders") == 0


def test_client_library_retries_are_off_so_429_reaches_our_policy(kit: Kit) -> None:
    b = kit.broker(policy=__import__("core.brokers.retry", fromlist=["RetryPolicy"]).RetryPolicy(attempts=1))
    kit.fake.inject("429", "GET", "/v2/account", retry_after=7)
    with pytest.raises(RetryableBrokerError) as info:
        b.balances()
    assert info.value.retry_after == 7.0
    assert kit.fake.count("GET", "/v2/account") == 1  # alpaca-py did not retry on its own


def test_market_data_bars_frame(kit: Kit) -> None:
    frame = kit.broker().bars("AAPL", datetime(2024, 1, 1, tzinfo=UTC), limit=3)
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert str(frame.index.tz) == "UTC" and frame.index.name == "ts"
    assert frame["volume"].tolist() == [1_000_000.0, 1_000_001.0, 1_000_002.0]


def test_capabilities(kit: Kit) -> None:
    caps = kit.broker().capabilities()
    assert caps.supports(OrderType.TRAILING_STOP) and caps.bracket and caps.oco
    assert caps.asset_classes == {AssetClass.EQUITY} and caps.taker_fee == 0.0


def test_paper_is_default_and_live_is_refused_without_confirmation() -> None:
    from core.brokers._venue import LiveTradingNotAllowed

    assert AlpacaBroker("k", "s").client._base_url.startswith("https://paper-api.alpaca.markets")
    with pytest.raises(LiveTradingNotAllowed):
        AlpacaBroker("k", "s", paper=False)


def test_fills_page_past_the_hundredth_and_since_asks_only_for_the_recent_ones(kit: Kit) -> None:
    """Alpaca pages account activities 100 at a time: a single page would stop seeing fills after the account's 100th."""
    b = kit.broker()
    for i in range(230):  # 230 market orders, one fill each, the fake's clock one second apart
        b.submit(Order(f"m{i}", "AAPL", Side.BUY if i % 2 == 0 else Side.SELL, 1, time_in_force=TimeInForce.DAY))
        kit.fake.now += timedelta(seconds=1)
    fills = b.fills()
    assert [f.client_order_id for f in fills] == [f"m{i}" for i in range(230)]  # every one, oldest first
    assert kit.fake.count("GET", "/v2/account/activities/FILL") == 3  # 100 + 100 + 30
    since = fills[200].ts
    recent = b.fills(since=since)
    assert [f.client_order_id for f in recent] == [f"m{i}" for i in range(200, 230)]
    assert kit.fake.count("GET", "/v2/account/activities/FILL") == 4  # one page: only the fills after ``since`` travel
