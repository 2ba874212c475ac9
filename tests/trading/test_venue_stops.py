"""Protective stops at real venues: the loop on Alpaca and on Zerodha (wire-format fakes on 127.0.0.1, the real client libraries).

The bars fall through the warm-up, then rise: sma_cross (long_flat) buys. The position's
protective stop (``risk.stop``: 5 % under the entry) is placed at the venue as the venue's own
stop order (both venues have stop orders natively: Alpaca ``stop``, Kite ``SL-M``), not emulated
by the order manager. Then one bar drops 25 %: the fake's price falls through the stop, the
venue fills it, and the loop learns of it on its next tick: the position is closed exactly once
(one sell at the venue, no second exit from the strategy's later cross down), and the loop's
cash and position equal the account's after every tick.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.clock import FixedClock
from core.config import load_settings
from core.services import Context, trading_loop
from core.trading import toggle
from tests.fakes._bars import MovingBars
from tests.fakes.alpaca_fake import AlpacaFake, _d
from tests.fakes.kite_fake import KiteFake
from tests.fakes.kits import SECRETS

WARMUP, DROP, PERCENT = 50, 68, 0.05
IST = timedelta(hours=5, minutes=30)


def _bars(level: float) -> list[tuple[float, float, float, float, float]]:
    """Minute bars: a fall through the warm-up, a rise (the 10/20 cross buys), a 25 % drop at bar DROP, then flat."""
    closes = [100.0 - 0.3 * i for i in range(WARMUP)]
    closes += [closes[-1] + 1.0 * j for j in range(1, DROP - WARMUP + 1)]
    closes += [closes[-1] * 0.75] * 12
    out, prev = [], closes[0]
    for c in closes:
        o = prev
        out.append((o * level, max(o, c) * level + 0.1, min(o, c) * level - 0.1, c * level, 10_000.0))
        prev = c
    return out


class Market:
    """The fake's clock and price and the loop's clock, moved together (the price: the last closed bar's close)."""

    def __init__(self, fake, symbol: str, bars, start: datetime, naive_ist: bool = False) -> None:
        self.fake, self.symbol, self.bars, self.start, self.naive_ist = fake, symbol, bars, start, naive_ist
        self.clock = FixedClock(start + timedelta(minutes=WARMUP, seconds=20))
        self.set(self.clock.now())

    @property
    def closed(self) -> int:
        """Return how many bars have closed."""
        return max(int((self.clock.now() - self.start) / timedelta(minutes=1)), 1)

    def set(self, now: datetime) -> None:
        self.clock.set(now)
        self.fake.now = (now + IST).replace(tzinfo=None) if self.naive_ist else now
        self.fake.set_price(self.symbol, self.bars[min(self.closed, len(self.bars)) - 1][3])  # works the resting orders

    def minutes(self, n: int) -> None:
        self.set(self.clock.now() + timedelta(minutes=n))


def _settings(tmp_path, db_url: str, venue: str, brokers: dict, symbol: str):
    return load_settings(
        config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": db_url}, log={"dir": str(tmp_path / "logs")},
        scheduler={"embedded": False}, risk={"daily_loss_cap_pct": 0.5, "max_position_pct": 0.5, "stop": {"kind": "percent", "percent": PERCENT}},
        # a local fake answers at once: the clients' rate limits (Alpaca 3 requests a second) would only make the test wait
        brokers={"default": venue, venue: {**brokers, "requests_per_second": 1000.0}}, data={"provider": "venue", "stale_after_bars": 3},
        trading={"strategy": "sma_cross", "params": {"mode": "long_flat"}, "symbols": [symbol], "timeframe": "1m", "warmup_bars": WARMUP,
                 "commission": 0.0})


def _run(loop, market: Market, venue_stop, book_equals_account) -> tuple[object, float]:
    """Tick until the stop rests at the venue, then through the drop; return the protective stop order and the entry quantity."""
    loop.tick()
    guard = None
    while guard is None:
        assert market.closed < DROP, "the strategy bought and its stop reached the venue before the drop"
        market.minutes(1)
        loop.tick()
        book_equals_account()
        guard = next((o for o in loop.manager.open_orders() if o.tags.get("protective") == "stop" and o.broker_order_id), None)
    held = loop.broker.portfolio.quantity(market.symbol)
    assert held > 0 and guard.quantity == held
    assert guard.stop_price == pytest.approx(loop.broker.portfolio.positions[market.symbol].avg_price * (1 - PERCENT), rel=1e-12)
    # Native: the venue holds a stop order under the order's ID; the order manager emulates nothing.
    assert not loop.manager.emulator.owns(guard.client_order_id) and not guard.tags.get("emulated")
    venue_stop(guard)
    while market.closed < DROP:  # up to the last bar before the drop: the stop rests, untouched
        market.minutes(1)
        loop.tick()
        book_equals_account()
    assert loop.manager.get(guard.client_order_id).status.value == "accepted"
    while market.closed <= DROP + 6:  # the drop, then the flat bars until the averages have crossed down
        market.minutes(1)
        loop.tick()
        book_equals_account()
    # By hand: the 10-bar average was above the 20-bar one before the drop and is below it on the last processed bar, so the
    # strategy asked to be flat after the stop had closed the position: no second sell may follow.
    closes = [b[3] for b in market.bars]

    def sma(i: int, n: int) -> float:
        return sum(closes[i - n + 1:i + 1]) / n

    assert sma(DROP - 1, 10) > sma(DROP - 1, 20) and sma(market.closed - 1, 10) < sma(market.closed - 1, 20)
    return loop.manager.get(guard.client_order_id), held


def test_alpaca_protective_stop_rests_at_the_venue_and_closes_the_position_once(tmp_path, sqlite_url):
    key, secret = SECRETS["alpaca"]
    start = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)  # 09:30 New York: the session is open (XNYS) for every traded bar
    bars = _bars(1.0)
    with AlpacaFake(api_key=key, api_secret=secret, prices={"AAPL": bars[0][3]}) as fake:
        fake.serve_bars("AAPL", MovingBars(start, timedelta(minutes=1), bars))
        market = Market(fake, "AAPL", bars, start)
        settings = _settings(tmp_path, sqlite_url, "alpaca", {"api_key": key, "api_secret": secret, "base_url": fake.url}, "AAPL")
        ctx = Context.create(settings, clock=market.clock)
        toggle.set_enabled(ctx.store, True)
        loop = trading_loop(ctx)

        def book_equals_account():
            pf = loop.broker.portfolio
            assert pf.cash == pytest.approx(float(_d(fake.cash)), rel=1e-9)
            assert pf.quantity("AAPL") == pytest.approx(float(_d(fake.positions.get("AAPL", [0.0])[0])), abs=1e-9)

        def venue_stop(guard):
            (placed,) = [o for o in fake.orders if o["id"] == guard.broker_order_id]
            assert (placed["type"], placed["side"], placed["status"], placed["time_in_force"]) == ("stop", "sell", "accepted", "gtc")
            assert float(placed["stop_price"]) == pytest.approx(guard.stop_price, rel=1e-9)

        guard, held = _run(loop, market, venue_stop, book_equals_account)
        sells = [o for o in fake.orders if o["side"] == "sell" and float(o["filled_qty"]) > 0]
        assert [(o["id"], o["type"], float(o["filled_qty"])) for o in sells] == [(guard.broker_order_id, "stop", held)]
        # The stop filled at the fake's price after the drop (below the stop: a gap is not honoured), and the loop knows it.
        assert float(sells[0]["filled_avg_price"]) == pytest.approx(bars[DROP][3], rel=1e-9)
        assert bars[DROP][3] < guard.stop_price < bars[DROP - 1][3]
        assert guard.status.value == "filled" and loop.broker.portfolio.quantity("AAPL") == 0.0 and "AAPL" not in {
            s for s, (q, _) in fake.positions.items() if q}
        assert not [o for o in loop.manager.orders() if o.side.value == "sell" and o.client_order_id != guard.client_order_id
                    and o.filled_quantity > 0]


def test_zerodha_protective_stop_rests_at_the_venue_and_closes_the_position_once(tmp_path, sqlite_url):
    key, token, secret = SECRETS["zerodha"]
    start = datetime(2024, 1, 2, 4, 30, tzinfo=UTC)  # 10:00 in Mumbai: the NSE session (XBOM) is open for every traded bar
    bars = _bars(15.0)
    with KiteFake(api_key=key, access_token=token, api_secret=secret, prices={"INFY": bars[0][3]}) as fake:
        fake.serve_historical("INFY", MovingBars((start + IST).replace(tzinfo=None), timedelta(minutes=1), bars))
        market = Market(fake, "INFY", bars, start, naive_ist=True)
        settings = _settings(tmp_path, sqlite_url, "zerodha", {"api_key": key, "access_token": token, "api_secret": secret, "base_url": fake.url},
                             "INFY")
        ctx = Context.create(settings, clock=market.clock)
        toggle.set_enabled(ctx.store, True)
        loop = trading_loop(ctx)

        def book_equals_account():
            pf = loop.broker.portfolio
            assert pf.cash == pytest.approx(fake.cash, rel=1e-9)
            assert pf.quantity("INFY") == pytest.approx(fake.net.get("INFY", [0.0])[0], abs=1e-9)

        def venue_stop(guard):
            (placed,) = [o for o in fake.orders if o["order_id"] == guard.broker_order_id]
            assert (placed["order_type"], placed["transaction_type"], placed["status"]) == ("SL-M", "SELL", "TRIGGER PENDING")
            assert placed["trigger_price"] == pytest.approx(guard.stop_price, rel=1e-9)

        guard, held = _run(loop, market, venue_stop, book_equals_account)
        sells = [o for o in fake.orders if o["transaction_type"] == "SELL" and o["filled_quantity"] > 0]
        assert [(o["order_id"], o["order_type"], o["filled_quantity"]) for o in sells] == [(guard.broker_order_id, "SL-M", held)]
        assert sells[0]["average_price"] == pytest.approx(bars[DROP][3], rel=1e-9)
        assert bars[DROP][3] < guard.stop_price < bars[DROP - 1][3]
        assert guard.status.value == "filled" and loop.broker.portfolio.quantity("INFY") == 0.0 and fake.net["INFY"][0] == 0
        assert not [o for o in loop.manager.orders() if o.side.value == "sell" and o.client_order_id != guard.client_order_id
                    and o.filled_quantity > 0]
