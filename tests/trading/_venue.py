"""Shared pieces of the venue-loop tests: real prices as minute bars, a fake market moved with the loop's clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.clock import FixedClock
from core.config import load_settings
from tests.fakes.binance_fake import T0, BinanceFake
from tests.fakes.kits import SECRETS

SYMBOL, VENUE_SYMBOL = "BTC/USDT", "BTCUSDT"
WARMUP = 60
MINUTE = 60_000


def series(n: int = 400) -> list[tuple[float, float, float, float, float]]:
    """Real prices moved to minute bars (the bundled AAPL daily bars, one per minute), scaled to a BTC-like level."""
    from core.data.providers import SampleProvider

    frame = SampleProvider("data/sample").bars("AAPL").iloc[:n]
    scale = 1000.0
    return [(o * scale, h * scale, lo * scale, c * scale, v / 1e6) for o, h, lo, c, v in
            frame[["open", "high", "low", "close", "volume"]].itertuples(index=False)]


class Market:
    """The fake exchange, its price and the loop's clock, moved together.

    ``work_orders`` moves the price through :meth:`BinanceFake.set_price`, which also works the
    orders resting at the fake (the rest of a partially filled market order fills at the next price).
    """

    def __init__(self, fake: BinanceFake, bars: list[tuple[float, ...]], closed: int, work_orders: bool = False) -> None:
        self.fake, self.bars, self.work_orders = fake, bars, work_orders
        self.clock = FixedClock(datetime.fromtimestamp(T0 / 1000, tz=UTC))
        self.set(T0 + closed * MINUTE + 20_000)

    def set(self, ms: int) -> None:
        closed = max((ms - T0) // MINUTE, 1)  # bars whose close time has passed
        price = self.bars[min(closed, len(self.bars)) - 1][3]
        if self.work_orders:
            self.fake.set_price(VENUE_SYMBOL, price)
        else:
            self.fake.prices[VENUE_SYMBOL] = price
        self.fake.now_ms = ms
        self.clock.set(datetime.fromtimestamp(ms / 1000, tz=UTC))

    def minutes(self, n: float) -> None:
        self.set(self.fake.now_ms + int(n * MINUTE))


def venue_settings(tmp_path: Any, db_url: str, fake: BinanceFake, venue: str = "binance", **extra: Any) -> Any:
    """Return settings that trade BTC/USDT minute bars with sma_cross on ``venue``, the bars from the fake."""
    key, secret = SECRETS["binance"]
    return load_settings(
        config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": db_url}, log={"dir": str(tmp_path / "logs")},
        scheduler={"embedded": False},
        # minute bars of a year's prices: let it trade all day; these tests are about the venue's plumbing, so no protective stops
        # (the default-settings test below keeps them on)
        risk={"daily_loss_cap_pct": 0.5, "stop": {"enabled": False}},
        # the fake has no rate limit: ccxt's limiter (50 ms per weight unit, a second per fills call) would only slow the test
        brokers={"default": venue, "binance": {"api_key": key, "api_secret": secret, "base_url": fake.url, "rate_limit_ms": 1}},
        data={"provider": "venue" if venue != "paper" else "ccxt", "ccxt_exchange": "binance", "base_url": fake.url, "stale_after_bars": 3},
        trading={"strategy": "sma_cross", "symbols": [SYMBOL], "timeframe": "1m", "warmup_bars": WARMUP, "commission": 0.001},
        **extra,
    )


def assert_book_equals_venue(loop: Any, fake: BinanceFake) -> None:
    """The loop's cash and position equal the fake exchange's balances (free plus locked)."""
    pf = loop.broker.portfolio
    assert pf.cash == pytest.approx(fake.free["USDT"] + fake.locked.get("USDT", 0.0), abs=1e-6)
    assert pf.quantity(SYMBOL) == pytest.approx(fake.free["BTC"] + fake.locked.get("BTC", 0.0), abs=1e-9)
