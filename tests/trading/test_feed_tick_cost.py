"""A live feed's per-tick work does not grow with the history (counted in rows and allocated bytes, never in time).

The loop runs on the live ccxt feed against the Binance wire-format fake (real ccxt client)
with the paper broker. One tick that brings one new closed bar is measured after ~100 and
after ~2,500 processed bars: the rows the exchange sent, the rows the feed handled and the
peak memory the tick allocated (``tracemalloc``: a copy or a rescan of the history shows up
as bytes proportional to it) must be the same at both depths.
"""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

from core.clock import FixedClock
from core.config import load_settings
from core.services import Context, trading_loop
from core.trading import toggle
from tests.fakes.binance_fake import T0, BinanceFake

SYMBOL, MINUTE, WARMUP = "BTC/USDT", 60_000, 60


def _series(n: int) -> list[tuple[float, float, float, float, float]]:
    from core.data.providers import SampleProvider

    frame = SampleProvider("data/sample").bars("AAPL").iloc[:n]
    return [tuple(float(x) for x in row) for row in frame[["open", "high", "low", "close", "volume"]].itertuples(index=False)]


class CountingSource:
    """The real ccxt source, counting the rows the exchange sent (independent of the feed's own counter)."""

    def __init__(self, inner):
        self.inner, self.rows = inner, 0
        self.name, self.calendar = inner.name, inner.calendar

    def server_time(self):
        return self.inner.server_time()

    def fetch(self, symbol, timeframe, since):
        frame = self.inner.fetch(symbol, timeframe, since)
        self.rows += len(frame)
        return frame


def _measure(loop, source, clock, fake, ticks: int = 4) -> list[tuple[int, int, int, int]]:
    out = []
    for _ in range(ticks):
        fake.now_ms += MINUTE
        clock.set(datetime.fromtimestamp(fake.now_ms / 1000, tz=UTC))
        rows, handled = source.rows, loop.feed.rows_handled
        tracemalloc.start()
        report = loop.tick()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.append((len(report.bars), source.rows - rows, loop.feed.rows_handled - handled, peak))
    return out


def test_a_live_tick_touches_only_the_new_bars_however_long_the_history(tmp_path, sqlite_url, monkeypatch):
    import core.trading.feeds.live as live

    made = []
    real = live.make_source
    monkeypatch.setattr(live, "make_source", lambda ctx, provider: made.append(CountingSource(real(ctx, provider))) or made[-1])
    with BinanceFake() as fake:
        fake.serve_klines("BTCUSDT", _series(2800))
        fake.now_ms = T0 + WARMUP * MINUTE + 20_000
        clock = FixedClock(datetime.fromtimestamp(fake.now_ms / 1000, tz=UTC))
        settings = load_settings(
            env_file=str(tmp_path / "none.env"), store={"database_url": sqlite_url}, log={"dir": str(tmp_path / "logs")},
            scheduler={"embedded": False}, data={"provider": "ccxt", "ccxt_exchange": "binance", "base_url": fake.url},
            trading={"strategy": "sma_cross", "symbols": [SYMBOL], "timeframe": "1m", "warmup_bars": WARMUP})
        ctx = Context.create(settings, clock=clock)
        toggle.set_enabled(ctx.store, True)
        loop = trading_loop(ctx)
        loop.tick()
        source = made[-1]

        def jump(minutes: int) -> int:
            fake.now_ms += minutes * MINUTE
            clock.set(datetime.fromtimestamp(fake.now_ms / 1000, tz=UTC))
            return len(loop.tick().bars)

        assert jump(100) == 100
        shallow = _measure(loop, source, clock, fake)
        assert jump(2_400) == 2_400
        deep = _measure(loop, source, clock, fake)
    processed = len(ctx.store.load_bars(SYMBOL, "1m", "ccxt-binance"))
    assert processed >= WARMUP + 2_500
    # One new closed bar per tick, the exchange sent the same rows (the new bar and the one forming) at both depths.
    assert [m[:3] for m in deep] == [m[:3] for m in shallow]
    assert all(m[0] == 1 and m[1] == 2 for m in deep)
    # Memory the tick allocated: the same at 2,500 bars as at 100 (a copy of the history would be ~25x larger).
    shallow_peak, deep_peak = sorted(m[3] for m in shallow)[1], sorted(m[3] for m in deep)[1]
    assert deep_peak <= shallow_peak * 1.25 + 20_000, (shallow, deep)
    print(f"\nbars processed {processed - WARMUP}; per tick rows/handled/peak bytes: shallow {shallow}, deep {deep}")
