"""Binance adapter through ccxt against the local fake: order types, cancel, replace, capabilities, balances."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.kits import Kit, make_kit

from core.brokers.base import Broker, OrderRejected
from core.domain import AssetClass, Order, OrderStatus, OrderType, Side, TimeInForce


@pytest.fixture
def kit() -> Iterator[Kit]:
    k = make_kit("binance")
    yield k
    k.fake.stop()


def test_adapter_satisfies_the_broker_protocol(kit: Kit) -> None:
    assert isinstance(kit.broker(), Broker)


def test_market_buy_fills_at_price_with_fee_and_moves_balances(kit: Kit) -> None:
    b = kit.broker()
    o = b.submit(Order("m1", "BTC/USDT", Side.BUY, 0.1))
    assert (o.status, o.filled_quantity, o.avg_fill_price) == (OrderStatus.FILLED, 0.1, 50_000.0)
    # Hand-computed: 100,000 - 0.1 * 50,000 * (1 + 0.001) = 94,995 USDT left; 0.1 BTC bought.
    bal = {x.currency: x.total for x in b.balances()}
    assert bal["USDT"] == pytest.approx(94_995.0)
    assert bal["BTC"] == pytest.approx(0.1)
    [fill] = b.fills()
    assert (fill.client_order_id, fill.quantity, fill.price, fill.fee) == ("m1", 0.1, 50_000.0, pytest.approx(5.0))
    # The real client sent newClientOrderId and a MARKET type on the wire.
    sent = kit.fake.orders[0]
    assert (sent["clientOrderId"], sent["type"], sent["side"]) == ("m1", "MARKET", "BUY")


def test_limit_rests_then_fills_when_price_reaches_it(kit: Kit) -> None:
    b = kit.broker()
    o = b.submit(Order("l1", "BTC-USDT", Side.BUY, 0.2, OrderType.LIMIT, limit_price=49_000.0))
    assert o.status is OrderStatus.ACCEPTED and o.symbol == "BTC/USDT"
    assert kit.fake.orders[0]["type"] == "LIMIT" and kit.fake.orders[0]["timeInForce"] == "GTC"
    kit.fake.set_price("BTCUSDT", 48_900.0)
    done = b.get_order("l1")
    assert (done.status, done.filled_quantity, done.avg_fill_price) == (OrderStatus.FILLED, 0.2, 48_900.0)


def test_stop_limit_and_stop_market_map_to_binance_stop_loss_types(kit: Kit) -> None:
    b = kit.broker()
    b.submit(Order("seed", "BTC/USDT", Side.BUY, 0.3))
    sl = b.submit(Order("sl1", "BTC/USDT", Side.SELL, 0.1, OrderType.STOP_LIMIT, limit_price=44_000.0, stop_price=45_000.0))
    sm = b.submit(Order("sm1", "BTC/USDT", Side.SELL, 0.1, OrderType.STOP, stop_price=44_500.0))
    assert [o["type"] for o in kit.fake.orders[1:]] == ["STOP_LOSS_LIMIT", "STOP_LOSS"]
    assert (sl.order_type, sl.stop_price, sl.limit_price) == (OrderType.STOP_LIMIT, 45_000.0, 44_000.0)
    assert (sm.order_type, sm.stop_price) == (OrderType.STOP, 44_500.0)
    kit.fake.set_price("BTCUSDT", 44_400.0)  # below both stops: both trigger and fill at 44,400
    assert b.get_order("sl1").status is OrderStatus.FILLED
    assert b.get_order("sm1").avg_fill_price == 44_400.0


def test_ioc_limit_that_cannot_fill_expires(kit: Kit) -> None:
    o = kit.broker().submit(Order("ioc1", "BTC/USDT", Side.BUY, 0.1, OrderType.LIMIT, limit_price=40_000.0, time_in_force=TimeInForce.IOC))
    assert o.status is OrderStatus.EXPIRED


def test_trailing_and_day_orders_are_refused_before_reaching_the_venue(kit: Kit) -> None:
    b = kit.broker()
    with pytest.raises(OrderRejected, match="emulate"):
        b.submit(Order("t1", "BTC/USDT", Side.SELL, 0.1, OrderType.TRAILING_STOP, trail_percent=1.0))
    with pytest.raises(OrderRejected, match="DAY"):
        b.submit(Order("d1", "BTC/USDT", Side.BUY, 0.1, OrderType.LIMIT, limit_price=1.0, time_in_force=TimeInForce.DAY))
    assert kit.fake.count("POST", "/api/v3/order") == 0


def test_cancel_and_replace_keep_one_open_order_per_client_id(kit: Kit) -> None:
    b = kit.broker()
    b.submit(Order("r1", "BTC/USDT", Side.BUY, 0.1, OrderType.LIMIT, limit_price=45_000.0))
    new = b.replace("r1", limit_price=46_000.0, quantity=0.2)
    assert (new.client_order_id, new.limit_price, new.quantity, new.status) == ("r1", 46_000.0, 0.2, OrderStatus.ACCEPTED)
    assert [(o.client_order_id, o.limit_price) for o in b.open_orders()] == [("r1", 46_000.0)]
    final = b.cancel("r1")
    assert final.status is OrderStatus.CANCELED
    assert b.open_orders() == []


def test_long_client_ids_are_hashed_to_binance_limits_and_found_again(kit: Kit) -> None:
    cid = "strategy-sma-cross/BTC/2024-01-02T00:00:00+00:00#1"  # 50 chars, has '+' and '#'
    b = kit.broker()
    placed = b.submit(Order(cid, "BTC/USDT", Side.BUY, 0.1, OrderType.LIMIT, limit_price=45_000.0))
    sent = kit.fake.orders[0]["clientOrderId"]
    assert len(sent) <= 36 and sent != cid
    assert placed.client_order_id == cid
    assert b.get_order(cid).broker_order_id == placed.broker_order_id


def test_capabilities_are_data_with_rules_from_exchange_info(kit: Kit) -> None:
    b = kit.broker()
    b.open_orders()  # loads markets
    caps = b.capabilities()
    assert caps.asset_classes == {AssetClass.CRYPTO}
    assert not caps.supports(OrderType.TRAILING_STOP) and caps.supports(OrderType.STOP_LIMIT)
    assert TimeInForce.DAY not in caps.time_in_force
    assert caps.extra["rules"]["BTC/USDT"]["tick_size"] == 0.01
    assert caps.extra["rules"]["BTC/USDT"]["min_notional"] == 5.0


def test_market_data_klines_and_depth(kit: Kit) -> None:
    b = kit.broker()
    rows = b.bars("BTC/USDT", "1m", limit=3)
    assert [r[4] for r in rows] == pytest.approx([50_000 * 0.998, 50_000 * 0.999, 50_000.0])
    # Fake book: 2 BTC at 49,999 and 2 BTC at 50,001 -> 200,000 USDT at the top.
    assert b.top_of_book_depth("BTC/USDT") == pytest.approx(2 * 49_999 + 2 * 50_001)


def test_wrong_secret_is_a_clear_non_retryable_error(kit: Kit) -> None:
    from core.brokers.base import BrokerError, RetryableBrokerError
    from core.brokers.binance import BinanceBroker

    bad = BinanceBroker("bnKEY-7f3a9c1e2d", "wrong-secret", base_url=kit.fake.url, timeout=0.3, rate_limit_ms=1)
    with pytest.raises(BrokerError) as info:
        bad.balances()
    assert not isinstance(info.value, RetryableBrokerError)


def test_native_oco_sell_takes_profit_and_expires_the_stop(kit: Kit) -> None:
    b = kit.broker()
    b.submit(Order("pos", "BTC/USDT", Side.BUY, 0.2))
    tags = {"order_class": "oco", "take_profit": 52_000.0, "stop_loss": 48_000.0, "stop_loss_limit": 47_900.0}
    tp = b.submit(Order("oco1", "BTC/USDT", Side.SELL, 0.2, OrderType.LIMIT, tags=tags))
    above, below = kit.fake.orders[1:]
    assert (above["type"], above["price"], above["clientOrderId"]) == ("LIMIT_MAKER", "52000.00000000", "oco1")
    assert (below["type"], below["stopPrice"], below["price"]) == ("STOP_LOSS_LIMIT", "48000.00000000", "47900.00000000")
    assert below["clientOrderId"] == "oco1:stop_loss"
    assert tp.status is OrderStatus.ACCEPTED and tp.oco_group == f"list:{above['orderListId']}"
    assert {o.client_order_id for o in b.open_orders()} == {"oco1", "oco1:stop_loss"}
    # Both legs share one hold of 0.2 BTC, as at Binance.
    assert {x.currency: x.free for x in b.balances()}.get("BTC", 0.0) == pytest.approx(0.0)
    kit.fake.set_price("BTCUSDT", 52_100.0)
    assert b.get_order("oco1").status is OrderStatus.FILLED
    stop = b.get_order("oco1:stop_loss")
    assert (stop.status, stop.parent_id) == (OrderStatus.EXPIRED, "oco1")
    assert {x.currency: x.total for x in b.balances()}.get("BTC", 0.0) == pytest.approx(0.0)


def test_native_oco_survives_a_timeout_without_a_second_list(kit: Kit) -> None:
    b = kit.broker()
    b.submit(Order("pos", "BTC/USDT", Side.BUY, 0.2))
    kit.fake.inject("timeout", "POST", "/api/v3/orderList/oco", delay=0.6)
    tags = {"order_class": "oco", "take_profit": 52_000.0, "stop_loss": 48_000.0}
    b.submit(Order("oco2", "BTC/USDT", Side.SELL, 0.2, OrderType.LIMIT, tags=tags))
    assert len(kit.fake.orders_with_client_id("oco2")) == 1 and len(kit.fake.orders_with_client_id("oco2:stop_loss")) == 1
