"""Alpaca paper account in the loop with the market-hours rule (issue 14, test 2).

The alpaca feed (``data.provider: venue``: Alpaca's market-data API) and the Alpaca venue are
both pointed at the wire-format fake through the real alpaca-py clients. The fake's clock
starts at 08:00 New York time on a trading day: bars arrive (pre-market) but the NYSE session
(exchange-calendars XNYS) is closed, so no order reaches the fake; from 09:30 orders flow and
fill at the fake's price, and the loop's cash and positions equal the account's.
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
from tests.fakes.kits import SECRETS

SYMBOL, WARMUP = "AAPL", 60
START = datetime(2024, 1, 2, 12, 0, tzinfo=UTC)  # 07:00 in New York: bars from one hour before the warm-up ends
OPEN = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)  # 09:30 New York, the NYSE open (XNYS)


def _bars(n: int = 400) -> list[tuple[float, float, float, float, float]]:
    """Real prices as minute bars: the bundled AAPL daily bars, one per minute."""
    from core.data.providers import SampleProvider

    frame = SampleProvider("data/sample").bars("AAPL").iloc[:n]
    return [tuple(float(x) for x in row) for row in frame[["open", "high", "low", "close", "volume"]].itertuples(index=False)]


class Market:
    """The fake's clock and price and the loop's clock, moved together."""

    def __init__(self, fake: AlpacaFake, bars: list[tuple[float, ...]], now: datetime) -> None:
        self.fake, self.bars = fake, bars
        self.clock = FixedClock(now)
        self.set(now)

    def set(self, now: datetime) -> None:
        closed = max(int((now - START) / timedelta(minutes=1)), 1)
        self.fake.set_price(SYMBOL, self.bars[min(closed, len(self.bars)) - 1][3])  # works resting orders too
        self.fake.now = now
        self.clock.set(now)

    def minutes(self, n: float) -> None:
        self.set(self.clock.now() + timedelta(minutes=n))


def assert_book_equals_account(loop, fake: AlpacaFake) -> None:
    """The loop's cash and position equal what the account reports (Alpaca's decimals: 10 significant digits on the wire)."""
    pf = loop.broker.portfolio
    assert pf.cash == pytest.approx(float(_d(fake.cash)), rel=1e-9)
    assert pf.quantity(SYMBOL) == pytest.approx(float(_d(fake.positions.get(SYMBOL, [0.0])[0])), abs=1e-9)


def test_alpaca_loop_sends_no_order_while_the_market_is_closed_and_trades_once_it_opens(tmp_path, sqlite_url):
    key, secret = SECRETS["alpaca"]
    bars = _bars()
    with AlpacaFake(api_key=key, api_secret=secret, prices={SYMBOL: bars[0][3]}) as fake:
        fake.serve_bars(SYMBOL, MovingBars(START, timedelta(minutes=1), bars))
        market = Market(fake, bars, START + timedelta(minutes=WARMUP, seconds=20))
        settings = load_settings(
            config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": sqlite_url}, log={"dir": str(tmp_path / "logs")},
            # default protective stops (they rest at the venue); the fake has no rate limit, and the bars come as fast as
            # the test can tick, not one a minute: the client's own limit (Alpaca's 200 a minute) is raised for it
            scheduler={"embedded": False}, risk={"daily_loss_cap_pct": 0.5},
            brokers={"default": "alpaca", "alpaca": {"api_key": key, "api_secret": secret, "base_url": fake.url, "requests_per_second": 1000}},
            data={"provider": "venue", "stale_after_bars": 3},
            trading={"strategy": "sma_cross", "symbols": [SYMBOL], "timeframe": "1m", "warmup_bars": WARMUP, "commission": 0.0})
        ctx = Context.create(settings, clock=market.clock)
        toggle.set_enabled(ctx.store, True)
        loop = trading_loop(ctx)
        loop.tick()
        session = ctx.store.get_setting("loop.paper.session")
        assert (session["broker"], session["venue"], session["feed"]) == ("alpaca", "alpaca (paper)", "venue")
        closed_bars = vetoed = 0
        while market.clock.now() + timedelta(minutes=1) < OPEN:  # 08:01 .. 09:29 New York: pre-market
            market.minutes(1)
            report = loop.tick()
            closed_bars += len(report.bars)
            assert report.state == "market closed"
            assert toggle.loop_status(ctx.store)["market_closed"] == "market closed"
            assert fake.orders == []  # nothing sent while the session is closed
        vetoed = [o for o in loop.manager.orders() if "market closed" in (o.reason or "")]
        assert closed_bars == 89 and len(vetoed) >= 2  # the strategy wanted to trade; the market-hours rule refused
        open_bars = 0
        for _ in range(150):  # 09:30 .. 12:00 New York
            market.minutes(1)
            report = loop.tick()
            open_bars += len(report.bars)
            assert report.state == "running"
            assert_book_equals_account(loop, fake)
    assert open_bars == 150
    sent = [o for o in fake.orders if o.get("_top", True)]
    assert len(sent) >= 3
    assert all(datetime.fromisoformat(o["submitted_at"].replace("Z", "+00:00")) >= OPEN for o in sent)
    # Every order at the venue is ours, once, and in the venue's state in our book.
    ids = [o["client_order_id"] for o in sent]
    assert len(ids) == len(set(ids))
    ours = {o.client_order_id: o for o in loop.manager.orders()}
    assert all(ours[o["client_order_id"]].status.value == o["status"] for o in sent)
    assert any(o["status"] == "filled" for o in sent)
    print(f"\nbars pre-market {closed_bars}, in session {open_bars}; orders vetoed closed {len(vetoed)}, sent {len(sent)}, doubled 0")
