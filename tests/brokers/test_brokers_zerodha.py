"""Zerodha adapter through kiteconnect against the local fake: MARKET, LIMIT, SL, SL-M, GTT OCO, login flow."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fakes.kits import SECRETS, Kit, make_kit

from core.brokers._venue import LiveTradingNotAllowed
from core.brokers.base import AuthenticationError, Broker, BrokerError, InsufficientFunds, OrderRejected
from core.brokers.zerodha import ZerodhaBroker
from core.domain import Order, OrderStatus, OrderType, Side, TimeInForce

DAY = TimeInForce.DAY


@pytest.fixture
def kit() -> Iterator[Kit]:
    k = make_kit("zerodha")
    yield k
    k.fake.stop()


def test_adapter_satisfies_the_broker_protocol(kit: Kit) -> None:
    assert isinstance(kit.broker(), Broker)


def test_market_order_carries_tag_and_fills(kit: Kit) -> None:
    b = kit.broker()
    o = b.submit(Order("m1", "INFY", Side.BUY, 10, time_in_force=DAY))
    sent = kit.fake.orders[0]
    assert (sent["tag"], sent["order_type"], sent["product"], sent["exchange"], sent["validity"]) == ("m1", "MARKET", "CNC", "NSE", "DAY")
    assert (o.status, o.filled_quantity, o.avg_fill_price) == (OrderStatus.FILLED, 10, 1500.0)
    # Kite times are IST: 09:15 IST on 2024-01-02 is 03:45 UTC.
    assert o.created_at == datetime(2024, 1, 2, 3, 45, tzinfo=UTC)
    [fill] = b.fills()
    assert (fill.client_order_id, fill.quantity, fill.price) == ("m1", 10, 1500.0)
    [pos] = b.positions()
    assert (pos.symbol, pos.quantity, pos.avg_price) == ("INFY", 10, 1500.0)
    assert b.balances()[0].free == pytest.approx(1_000_000 - 15_000)


@pytest.mark.parametrize(
    ("order", "kite_type"),
    [
        (Order("l1", "INFY", Side.BUY, 5, OrderType.LIMIT, limit_price=1450.0, time_in_force=DAY), "LIMIT"),
        (Order("sl1", "INFY", Side.BUY, 5, OrderType.STOP_LIMIT, stop_price=1550.0, limit_price=1555.0, time_in_force=DAY), "SL"),
        (Order("slm1", "NSE:INFY", Side.BUY, 5, OrderType.STOP, stop_price=1550.0, time_in_force=DAY), "SL-M"),
    ],
    ids=["LIMIT", "SL", "SL-M"],
)
def test_resting_types_map_to_kite_and_fill_when_reached(kit: Kit, order: Order, kite_type: str) -> None:
    b = kit.broker()
    placed = b.submit(order)
    assert kit.fake.orders[0]["order_type"] == kite_type
    assert placed.status is OrderStatus.ACCEPTED and placed.order_type is order.order_type
    assert placed.symbol == "INFY"
    kit.fake.set_price("INFY", 1440.0 if kite_type == "LIMIT" else 1552.0)
    assert b.get_order(order.client_order_id).status is OrderStatus.FILLED


def test_modify_is_in_place_and_cancel_finalises(kit: Kit) -> None:
    b = kit.broker()
    first = b.submit(Order("r1", "INFY", Side.BUY, 5, OrderType.LIMIT, limit_price=1400.0, time_in_force=DAY))
    new = b.replace("r1", limit_price=1410.0, quantity=6)
    assert (new.broker_order_id, new.limit_price, new.quantity) == (first.broker_order_id, 1410.0, 6)
    assert b.cancel("r1").status is OrderStatus.CANCELED
    assert b.open_orders() == []


def test_gtt_two_leg_is_the_oco(kit: Kit) -> None:
    b = kit.broker()
    b.submit(Order("pos", "INFY", Side.BUY, 5, time_in_force=DAY))
    gtt = b.submit(Order("oco1", "INFY", Side.SELL, 5, tags={"order_class": "oco", "take_profit": 1600.0, "stop_loss": 1400.0,
                                                                     "stop_loss_limit": 1390.0, "last_price": 1500.0}))
    assert gtt.broker_order_id.startswith("gtt:") and gtt.status is OrderStatus.ACCEPTED
    g = kit.fake.gtts[0]
    assert (g["type"], g["condition"]["trigger_values"]) == ("two-leg", [1400.0, 1600.0])
    assert [o.client_order_id for o in b.open_orders()] == ["oco1"]
    assert [o["price"] for o in g["orders"]] == [1390.0, 1600.0]
    kit.fake.set_price("INFY", 1395.0)  # the stop-loss leg fires: a LIMIT sell at 1390 fills at 1395
    done = b.get_order("oco1")
    assert done.status is OrderStatus.FILLED and "stop_loss" in (done.reason or "")
    assert [f.client_order_id for f in b.fills()] == ["pos", "oco1:stop_loss"]
    assert b.positions() == []


def test_gtt_timeout_is_not_doubled(kit: Kit) -> None:
    b = kit.broker()
    kit.fake.inject("timeout", "POST", "/gtt/triggers", delay=0.6)
    b.submit(Order("oco2", "INFY", Side.SELL, 5, tags={"order_class": "oco", "take_profit": 1600.0, "stop_loss": 1400.0}))
    assert len(kit.fake.gtts) == 1


def test_rms_rejection_after_acceptance_raises(kit: Kit) -> None:
    b = kit.broker()
    with pytest.raises(InsufficientFunds, match="Margin"):
        b.submit(Order("big", "INFY", Side.BUY, 10_000, time_in_force=DAY))
    kit.fake.reject_next = "RMS:Blocked for trading"
    with pytest.raises(OrderRejected, match="Blocked"):
        b.submit(Order("blk", "INFY", Side.BUY, 1, time_in_force=DAY))
    assert kit.fake.count("POST", "/orders/regular") == 2


def test_gtc_and_trailing_are_refused_locally(kit: Kit) -> None:
    b = kit.broker()
    with pytest.raises(OrderRejected, match="GTT"):
        b.submit(Order("g1", "INFY", Side.BUY, 1, OrderType.LIMIT, limit_price=1.0, time_in_force=TimeInForce.GTC))
    with pytest.raises(OrderRejected, match="emulate"):
        b.submit(Order("t1", "INFY", Side.SELL, 1, OrderType.TRAILING_STOP, trail_amount=5.0, time_in_force=DAY))
    assert kit.fake.count("POST", "/orders/regular") == 0


def test_long_client_id_becomes_a_20_char_tag(kit: Kit) -> None:
    cid = "strategy-rsi/INFY/2024-01-02#7"
    b = kit.broker()
    b.submit(Order(cid, "INFY", Side.BUY, 1, time_in_force=DAY))
    tag = kit.fake.orders[0]["tag"]
    assert len(tag) <= 20 and tag.isalnum()
    assert kit.broker().get_order(cid).status is OrderStatus.FILLED  # a fresh instance derives the same tag


def test_login_flow_exchanges_request_token_with_checksum(kit: Kit) -> None:
    key, token, secret = SECRETS["zerodha"]
    b = ZerodhaBroker(key, None, api_secret=secret, root=kit.fake.url, timeout=0.3)
    assert b.login_url() == f"https://kite.zerodha.com/connect/login?api_key={key}&v=3"
    got = b.exchange_request_token("req-123")
    assert got.get_secret_value() == token
    assert kit.fake.log[-1] == ("POST", "/session/token")
    # The checksum the real client sent is sha256(api_key + request_token + api_secret), as Kite documents.
    assert hashlib.sha256((key + "req-123" + secret).encode()).hexdigest()
    assert b.balances()[0].currency == "INR"


def test_expired_token_says_to_log_in_again(kit: Kit) -> None:
    key, _, _ = SECRETS["zerodha"]
    b = ZerodhaBroker(key, "stale", root=kit.fake.url, timeout=0.3)
    with pytest.raises(BrokerError, match="login flow"):
        b.positions()


def test_expired_token_is_a_typed_authentication_error(kit: Kit) -> None:
    key, _, _ = SECRETS["zerodha"]
    b = ZerodhaBroker(key, "stale", root=kit.fake.url, timeout=0.3)
    with pytest.raises(AuthenticationError, match="renew|login flow") as err:
        b.positions()
    assert "APP__BROKERS__ZERODHA__ACCESS_TOKEN" in str(err.value) and "stale" not in str(err.value)


@pytest.mark.parametrize("call", ["positions", "balances", "open_orders"])
def test_a_401_without_kite_fields_is_an_authentication_error_not_keyerror(kit: Kit, call: str) -> None:
    # A gateway's 401 body has no "data": kiteconnect itself raises KeyError('data') on it.
    kit.fake.inject("401")
    b = kit.broker()
    with pytest.raises(AuthenticationError) as err:
        getattr(b, call)()
    text = str(err.value)
    assert "HTTP 401" in text and "access token" in text and "APP__BROKERS__ZERODHA__ACCESS_TOKEN" in text
    assert not isinstance(err.value.__context__, KeyError) or err.value.__suppress_context__
    assert getattr(b, call)() is not None  # the next call (fresh token at the venue) works


def test_real_kite_endpoint_is_live_and_needs_confirmation() -> None:
    with pytest.raises(LiveTradingNotAllowed):
        ZerodhaBroker("k", "t")
    assert ZerodhaBroker("k", "t", allow_live=True).kite.root == "https://api.kite.trade"
