"""Paper broker fills for every order type, checked against fills computed by hand.

Bars are (open, high, low, close, volume); orders submitted after bar k meet bar k+1.
"""

from datetime import UTC, datetime, timedelta

import pytest

from core.brokers.base import InsufficientFunds, OrderRejected
from core.brokers.paper import PaperBroker
from core.brokers.paper.fill_model import FillModel
from core.clock import FixedClock
from core.domain import Bar, Instrument, Order, OrderStatus, OrderType, Side, TimeInForce

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class Book:
    """A paper broker plus a bar feed with one bar per day."""

    def __init__(self, cash=100_000.0, **fill):
        self.clock = FixedClock(T0)
        self.broker = PaperBroker(self.clock, cash=cash, fill_model=FillModel(**fill))
        self.day = 0
        self.events = []
        self.broker.subscribe(self.events.append)

    def bar(self, o, h, lo, c, v=1_000_000, symbol="X"):
        self.clock.set(T0 + timedelta(days=self.day))
        self.day += 1
        return self.broker.on_bar(Bar(symbol, self.clock.now(), o, h, lo, c, v))

    def order(self, cid, side, qty, kind=OrderType.MARKET, **kw):
        return self.broker.submit(Order(cid, kw.pop("symbol", "X"), side, qty, kind, **kw))

    def get(self, cid):
        return self.broker.get_order(cid)


@pytest.fixture
def book():
    b = Book()
    b.bar(100, 101, 99, 100)  # a first bar, so orders have a last price
    return b


def test_market_order_fills_at_next_open(book):
    book.order("m", Side.BUY, 10)
    assert book.get("m").status is OrderStatus.ACCEPTED
    fills = book.bar(102, 104, 101, 103)
    assert [(f.quantity, f.price) for f in fills] == [(10, 102)]
    assert book.get("m").status is OrderStatus.FILLED and book.get("m").avg_fill_price == 102
    assert book.broker.portfolio.cash == 100_000 - 1020


def test_market_order_in_close_mode_fills_at_last_close_immediately():
    b = Book(market_fill="close")
    b.bar(100, 101, 99, 100.5)
    order = b.order("m", Side.BUY, 10)
    assert order.status is OrderStatus.FILLED and order.avg_fill_price == 100.5


def test_limit_buy_fills_at_limit_inside_the_range_and_at_open_on_a_gap(book):
    book.order("inside", Side.BUY, 5, OrderType.LIMIT, limit_price=98)
    book.order("gap", Side.BUY, 5, OrderType.LIMIT, limit_price=97)
    book.order("never", Side.BUY, 5, OrderType.LIMIT, limit_price=90)
    fills = book.bar(99, 100, 97.5, 99.5)  # reaches 98, not 97
    assert [(f.client_order_id, f.price) for f in fills] == [("inside", 98)]
    fills = book.bar(96, 97, 95, 96.5)  # opens below 97: a gap in the buyer's favour fills at the open
    assert [(f.client_order_id, f.price) for f in fills] == [("gap", 96)]
    assert book.get("never").status is OrderStatus.ACCEPTED
    assert {f.liquidity for f in book.broker.fills()} == {"maker"}


def test_limit_sell_fills_at_limit_or_better_open(book):
    book.order("b", Side.BUY, 10)
    book.bar(100, 100, 100, 100)
    book.order("s1", Side.SELL, 5, OrderType.LIMIT, limit_price=103)
    book.order("s2", Side.SELL, 5, OrderType.LIMIT, limit_price=104)
    assert [(f.client_order_id, f.price) for f in book.bar(101, 103.5, 100, 103)] == [("s1", 103)]
    assert [(f.client_order_id, f.price) for f in book.bar(106, 107, 105, 106)] == [("s2", 106)]


def test_stop_sell_fills_at_stop_inside_the_range_and_at_open_when_gapped_through(book):
    book.order("b", Side.BUY, 20)
    book.bar(100, 100, 100, 100)
    book.order("stop95", Side.SELL, 10, OrderType.STOP, stop_price=95)
    book.order("stop90", Side.SELL, 10, OrderType.STOP, stop_price=90)
    assert [(f.client_order_id, f.price) for f in book.bar(97, 98, 94, 96)] == [("stop95", 95)]
    # The next bar opens at 85, far below the 90 stop: the fill is the open, not the stop price.
    assert [(f.client_order_id, f.price) for f in book.bar(85, 88, 84, 87)] == [("stop90", 85)]
    assert book.get("stop90").avg_fill_price == 85


def test_stop_buy_gap_up_fills_at_open(book):
    book.order("sb", Side.BUY, 10, OrderType.STOP, stop_price=105)
    assert book.bar(101, 104.9, 100, 104) == []
    assert [(f.price) for f in book.bar(108, 110, 107, 109)] == [108]


def test_stop_limit_triggered_at_open_triggered_inside_and_resting_as_limit(book):
    # Buy stop 105 limit 106: opens at 105.5 -> triggered at the open and marketable there.
    book.order("a", Side.BUY, 1, OrderType.STOP_LIMIT, stop_price=105, limit_price=106)
    # Buy stop 103 limit 103.5: triggered inside the bar at 103 <= limit -> fills at 103.
    book.order("b", Side.BUY, 1, OrderType.STOP_LIMIT, stop_price=103, limit_price=103.5)
    # Buy stop 104 limit 102: triggered inside at 104 > limit; the pullback to 102 can only count from the next bar.
    book.order("c", Side.BUY, 1, OrderType.STOP_LIMIT, stop_price=104, limit_price=102)
    fills = book.bar(102, 104.5, 101, 104)
    assert [(f.client_order_id, f.price) for f in fills] == [("b", 103)]
    assert book.get("c").status is OrderStatus.ACCEPTED
    fills = book.bar(105.5, 106, 101.5, 102)
    assert [(f.client_order_id, f.price) for f in fills] == [("a", 105.5), ("c", 102)]
    assert [e.event for e in book.events if e.client_order_id == "c"].count("OrderTriggered") == 1


def test_trailing_stop_ratchets_with_highs_and_never_loosens(book):
    book.order("b", Side.BUY, 10)
    book.bar(100, 100, 100, 100)  # bought at 100, last close 100
    book.order("trail", Side.SELL, 10, OrderType.TRAILING_STOP, trail_amount=5)
    assert book.get("trail").stop_price == 95  # 100 - 5
    book.bar(101, 110, 99, 108)  # low 99 > 95; then ratchet to 110 - 5
    assert book.get("trail").stop_price == 105
    book.bar(107, 109, 106, 107)  # high 109 < 110: the stop stays at 105
    assert book.get("trail").stop_price == 105
    fills = book.bar(106, 106.5, 103, 104)  # low 103 <= 105 -> fills at 105
    assert [(f.price, f.quantity) for f in fills] == [(105, 10)]


def test_trailing_stop_percent_for_a_short_ratchets_down(book):
    book.order("s", Side.SELL, 10)
    book.bar(100, 100, 100, 100)
    book.order("trail", Side.BUY, 10, OrderType.TRAILING_STOP, trail_percent=10)
    assert book.get("trail").stop_price == pytest.approx(110)  # 100 * 1.10
    book.bar(99, 101, 80, 85)  # high 101 < 110; ratchet to 80 * 1.1 = 88
    assert book.get("trail").stop_price == pytest.approx(88)
    fills = book.bar(90, 91, 86, 90)  # opens at 90 above the 88 stop: gap -> fill at the open
    assert [f.price for f in fills] == [90]


def test_oco_fill_of_one_leg_cancels_the_other(book):
    book.order("b", Side.BUY, 10)
    book.bar(100, 100, 100, 100)
    book.order("tp", Side.SELL, 10, OrderType.LIMIT, limit_price=110, oco_group="g")
    book.order("sl", Side.SELL, 10, OrderType.STOP, stop_price=95, oco_group="g")
    fills = book.bar(101, 111, 100, 109)
    assert [(f.client_order_id, f.price) for f in fills] == [("tp", 110)]
    assert book.get("sl").status is OrderStatus.CANCELED and "OCO" in book.get("sl").reason
    assert book.broker.portfolio.quantity("X") == 0


def test_oco_both_legs_in_one_bar_assumes_the_stop_first(book):
    book.order("b", Side.BUY, 10)
    book.bar(100, 100, 100, 100)
    book.order("tp", Side.SELL, 10, OrderType.LIMIT, limit_price=110, oco_group="g")
    book.order("sl", Side.SELL, 10, OrderType.STOP, stop_price=95, oco_group="g")
    fills = book.bar(100, 112, 94, 100)  # both 110 and 95 inside the range
    assert [(f.client_order_id, f.price) for f in fills] == [("sl", 95)]
    assert book.get("tp").status is OrderStatus.CANCELED


def test_oco_leg_gapped_at_open_wins_over_the_conservative_rule(book):
    book.order("b", Side.BUY, 10)
    book.bar(100, 100, 100, 100)
    book.order("tp", Side.SELL, 10, OrderType.LIMIT, limit_price=110, oco_group="g")
    book.order("sl", Side.SELL, 10, OrderType.STOP, stop_price=95, oco_group="g")
    fills = book.bar(111, 112, 94, 100)  # opens above the take-profit: that comes first
    assert [(f.client_order_id, f.price) for f in fills] == [("tp", 111)]


def test_bracket_exits_wait_for_the_entry_then_work_as_oco(book):
    book.order("e", Side.BUY, 10, OrderType.LIMIT, limit_price=98)
    book.order("e-tp", Side.SELL, 10, OrderType.LIMIT, limit_price=104, parent_id="e", oco_group="br")
    book.order("e-sl", Side.SELL, 10, OrderType.STOP, stop_price=96, parent_id="e", oco_group="br")
    assert book.get("e-tp").status is OrderStatus.NEW  # held
    assert book.bar(101, 103, 99, 102) == []  # entry not reached; exits still held though 103 < 104 anyway
    assert book.get("e-sl").status is OrderStatus.NEW
    fills = book.bar(99, 100, 97, 99)  # entry fills at 98; exits activate: low 97 > 96, high 100 < 104
    assert [(f.client_order_id, f.price) for f in fills] == [("e", 98)]
    assert book.get("e-tp").status is OrderStatus.ACCEPTED and book.get("e-sl").status is OrderStatus.ACCEPTED
    fills = book.bar(100, 105, 99, 104)
    assert [(f.client_order_id, f.price) for f in fills] == [("e-tp", 104)]
    assert book.get("e-sl").status is OrderStatus.CANCELED
    assert book.broker.portfolio.trades[0].pnl == pytest.approx(60)  # (104 - 98) * 10


def test_bracket_exit_can_fill_in_the_entry_bar_from_the_entry_price(book):
    book.order("e", Side.BUY, 10)
    book.order("e-sl", Side.SELL, 10, OrderType.STOP, stop_price=97, parent_id="e", oco_group="br")
    fills = book.bar(100, 101, 95, 96)  # market entry at the open 100, then the range reaches 97
    assert [(f.client_order_id, f.price) for f in fills] == [("e", 100), ("e-sl", 97)]


def test_an_exit_for_an_unknown_entry_is_rejected(book):
    with pytest.raises(OrderRejected, match="unknown parent order 'nope'"):
        book.order("x-tp", Side.SELL, 10, OrderType.LIMIT, limit_price=110, parent_id="nope")


def test_canceling_an_unfilled_bracket_entry_cancels_the_held_exits(book):
    book.order("e", Side.BUY, 10, OrderType.LIMIT, limit_price=90)
    book.order("e-tp", Side.SELL, 10, OrderType.LIMIT, limit_price=110, parent_id="e", oco_group="br")
    book.broker.cancel("e")
    assert book.get("e-tp").status is OrderStatus.CANCELED


def test_gtc_order_rests_across_days_until_reached(book):
    book.order("g", Side.BUY, 5, OrderType.LIMIT, limit_price=95, time_in_force=TimeInForce.GTC)
    assert book.bar(100, 101, 96, 100) == [] and book.bar(99, 100, 95.5, 97) == []
    fills = book.bar(97, 98, 94, 96)  # third day: reaches 95
    assert [(f.price, f.ts) for f in fills] == [(95, T0 + timedelta(days=3))]


def test_day_order_expires_when_the_next_day_starts(book):
    book.order("d", Side.BUY, 5, OrderType.LIMIT, limit_price=90, time_in_force=TimeInForce.DAY)
    book.bar(100, 101, 95, 100)  # its day: not reached
    assert book.get("d").status is OrderStatus.ACCEPTED
    book.bar(89, 90, 85, 86)  # next day: expired before it could fill
    assert book.get("d").status is OrderStatus.EXPIRED and book.broker.fills() == []


def test_ioc_takes_what_the_volume_allows_and_cancels_the_rest():
    b = Book(max_volume_share=0.1)
    b.bar(100, 101, 99, 100)
    b.order("ioc", Side.BUY, 500, time_in_force=TimeInForce.IOC)
    fills = b.bar(101, 102, 100, 101, v=3000)  # 10% of 3000 = 300
    assert [(f.quantity, f.price) for f in fills] == [(300, 101)]
    order = b.get("ioc")
    assert order.status is OrderStatus.CANCELED and order.filled_quantity == 300


def test_ioc_limit_meets_only_the_open(book):
    book.order("ioc", Side.BUY, 5, OrderType.LIMIT, limit_price=99, time_in_force=TimeInForce.IOC)
    assert book.bar(100, 101, 98, 100) == []  # 98 was reached later in the bar, not at arrival
    assert book.get("ioc").status is OrderStatus.CANCELED


def test_fok_fills_all_or_nothing():
    b = Book(max_volume_share=0.1)
    b.bar(100, 101, 99, 100)
    b.order("fok-big", Side.BUY, 500, time_in_force=TimeInForce.FOK)
    b.order("fok-small", Side.BUY, 200, time_in_force=TimeInForce.FOK)
    fills = b.bar(101, 102, 100, 101, v=3000)
    assert [(f.client_order_id, f.quantity) for f in fills] == [("fok-small", 200)]
    assert b.get("fok-big").status is OrderStatus.CANCELED and b.get("fok-big").filled_quantity == 0


def test_partial_fills_over_bars_when_the_order_exceeds_the_volume_share():
    b = Book(cash=1_000_000, max_volume_share=0.25)
    b.bar(100, 101, 99, 100)
    b.order("big", Side.BUY, 1000)
    f1 = b.bar(101, 102, 100, 101, v=2000)  # 500 at 101
    assert b.get("big").status is OrderStatus.PARTIALLY_FILLED
    f2 = b.bar(103, 104, 102, 103, v=4000)  # the remaining 500 at 103
    assert [(f.quantity, f.price) for f in f1 + f2] == [(500, 101), (500, 103)]
    order = b.get("big")
    assert order.status is OrderStatus.FILLED and order.avg_fill_price == pytest.approx(102)
    statuses = [e.event for e in b.events if e.client_order_id == "big"]
    assert statuses == ["OrderAccepted", "OrderPartiallyFilled", "OrderFilled"]


def test_slippage_and_fees():
    b = Book(slippage_bps=10, slippage_range=0.1, maker_fee=0.001, taker_fee=0.002, commission=1.0)
    b.bar(100, 101, 99, 100)
    b.order("m", Side.BUY, 10)
    b.order("l", Side.BUY, 10, OrderType.LIMIT, limit_price=99)
    fills = b.bar(100, 104, 98, 103)
    m, lim = fills
    # market: 100 + 100*10bp + 0.1*(104-98) = 100.7; fee 10*100.7*0.002 + 1
    assert m.price == pytest.approx(100.7) and m.fee == pytest.approx(10 * 100.7 * 0.002 + 1)
    # limit: no slippage, maker rate: 10*99*0.001 + 1
    assert lim.price == 99 and lim.fee == pytest.approx(10 * 99 * 0.001 + 1)
    assert b.broker.portfolio.fees_paid == pytest.approx(m.fee + lim.fee)


def test_lot_and_tick_rounding_and_zero_lot_reject():
    clock = FixedClock(T0)
    broker = PaperBroker(clock, instruments={"X": Instrument("X", tick_size=0.05, lot_size=10)})
    order = broker.submit(Order("a", "X", Side.BUY, 25, OrderType.LIMIT, limit_price=10.03))
    assert order.quantity == 20 and order.limit_price == pytest.approx(10.05)
    with pytest.raises(OrderRejected, match="rounds to 0 lots"):
        broker.submit(Order("b", "X", Side.BUY, 7))
    assert broker.get_order("b").status is OrderStatus.REJECTED


def test_insufficient_cash_is_rejected_with_the_reason():
    b = Book(cash=1_000)
    b.bar(100, 101, 99, 100)
    with pytest.raises(InsufficientFunds, match="needs ~2,000.00, 1,000.00 available"):
        b.order("big", Side.BUY, 20)
    assert b.get("big").status is OrderStatus.REJECTED and "insufficient funds" in b.get("big").reason


def test_replace_and_cancel(book):
    book.order("l", Side.BUY, 5, OrderType.LIMIT, limit_price=90)
    book.broker.replace("l", limit_price=99.5, quantity=7)
    fills = book.bar(100, 101, 99, 100)
    assert [(f.quantity, f.price) for f in fills] == [(7, 99.5)]
    book.order("l2", Side.BUY, 5, OrderType.LIMIT, limit_price=50)
    assert book.broker.cancel("l2").status is OrderStatus.CANCELED
    with pytest.raises(OrderRejected):
        book.broker.replace("l2", limit_price=51)


def test_submit_is_idempotent_on_client_order_id(book):
    first = book.order("same", Side.BUY, 5)
    again = book.order("same", Side.BUY, 50)
    assert again == first and len(book.broker.open_orders()) == 1


def test_every_transition_is_an_event_stamped_by_the_clock(book):
    book.order("m", Side.BUY, 10)
    book.bar(102, 104, 101, 103)
    events = [(e.event, e.status, e.ts) for e in book.events if e.client_order_id == "m"]
    assert events == [("OrderAccepted", OrderStatus.ACCEPTED, T0), ("OrderFilled", OrderStatus.FILLED, T0 + timedelta(days=1))]


def test_short_sale_needs_margin():
    b = Book(cash=1_000)
    b.bar(100, 101, 99, 100)
    b.order("s", Side.SELL, 9)  # 900 of margin: fine
    with pytest.raises(InsufficientFunds):
        b.order("s2", Side.SELL, 20)
    b.bar(100, 100, 100, 100)
    assert b.broker.portfolio.quantity("X") == -9 and b.broker.portfolio.cash == 1_900


def test_paper_broker_implements_the_broker_protocol_and_declares_capabilities():
    from core.brokers.base import Broker

    broker = PaperBroker(FixedClock(T0))
    assert isinstance(broker, Broker)
    caps = broker.capabilities()
    assert caps.oco and caps.bracket and caps.supports(OrderType.TRAILING_STOP) and caps.time_in_force == frozenset(TimeInForce)
    assert broker.balances()[0].free == 100_000
