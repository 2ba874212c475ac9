"""The trading loop on a live ccxt feed against the Binance wire-format fake (real ccxt client, 127.0.0.1).

The fake serves klines that move with its clock (the test advances it) and always
includes the bar still forming; the loop's clock is the same clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from core.backtest.run import run_backtest
from core.clock import FixedClock
from core.config import NotifySettings, load_settings
from core.engine import StopPolicy
from core.notify.notifier import Notifier
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.state import MemoryStore
from core.services import Context, risk_limits, trading_loop
from core.trading import toggle
from tests.fakes.binance_fake import T0, BinanceFake

SYMBOL = "BTC/USDT"
WARMUP = 60
MINUTE = 60_000
SOURCE = "ccxt-binance"


class Recorder:
    name = "recorder"

    def __init__(self):
        self.sent = []

    def send(self, text, subject=""):
        self.sent.append(text)


def _series(n: int = 400) -> list[tuple[float, float, float, float, float]]:
    """Real prices moved to minute bars: the bundled AAPL daily bars, one per minute."""
    from core.data.providers import SampleProvider

    frame = SampleProvider("data/sample").bars("AAPL").iloc[:n]
    return [tuple(float(x) for x in row) for row in frame[["open", "high", "low", "close", "volume"]].itertuples(index=False)]


class Market:
    """The fake exchange and the loop's clock, moved together."""

    def __init__(self, fake: BinanceFake, closed_bars: int) -> None:
        self.fake = fake
        self.clock = FixedClock(datetime.fromtimestamp(T0 / 1000, tz=UTC))
        self.set(T0 + closed_bars * MINUTE + 20_000)  # ``closed_bars`` closed, the next one forming for 20 s

    def set(self, ms: int) -> None:
        self.fake.now_ms = ms
        self.clock.set(datetime.fromtimestamp(ms / 1000, tz=UTC))

    def minutes(self, n: float) -> None:
        self.set(self.fake.now_ms + int(n * MINUTE))


def _ctx(tmp_path, db_url, market, provider="ccxt", trading=None, **data):
    settings = load_settings(
        env_file=str(tmp_path / "none.env"), store={"database_url": db_url}, log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False},
        data={"provider": provider, "ccxt_exchange": "binance", "base_url": market.fake.url, "stale_after_bars": 3, **data},
        trading={"strategy": "sma_cross", "symbols": [SYMBOL], "timeframe": "1m", "warmup_bars": WARMUP, "commission": 0.0005,
                 **(trading or {})},
    )
    ctx = Context.create(settings, clock=market.clock)
    recorder = Recorder()
    ctx.extras["notifier"] = Notifier(NotifySettings(telegram_enabled=True, rate_per_minute=100), market.clock, {"telegram": recorder})
    ctx.extras["recorder"] = recorder
    toggle.set_enabled(ctx.store, True)
    return ctx


def _orders(orders):
    return [(o.client_order_id, o.side.value, o.quantity, o.status.value, round(o.avg_fill_price or 0, 9)) for o in orders]


@pytest.fixture
def fake():
    with BinanceFake() as venue:
        venue.serve_klines("BTCUSDT", _series())
        yield venue


def test_paper_on_the_live_ccxt_feed_matches_the_backtester_over_the_stored_bars(tmp_path, sqlite_url, fake):
    market = Market(fake, WARMUP)
    ctx = _ctx(tmp_path, sqlite_url, market)
    loop = trading_loop(ctx)
    loop.tick()
    assert loop.feed.start == pd.Timestamp(T0 + (WARMUP - 1) * MINUTE, unit="ms", tz="UTC")
    processed = 0
    for step in [1, 1, 2.5, 7, 1, 30, 0.2, 60, 90, 45]:  # irregular polls: several bars per tick, none, a forming one
        market.minutes(step)
        processed += len(loop.tick().bars)
    bars = ctx.store.load_bars(SYMBOL, "1m", SOURCE)
    # Only closed bars were stored and acted on: the newest stored bar closed before the clock.
    assert bars.index[-1] + pd.Timedelta("1min") <= pd.Timestamp(market.clock.now())
    assert loop.last_processed == bars.index[-1]
    assert processed == len(bars) - WARMUP
    # The stored bars are the exchange's bars, not the forming snapshots.
    truth = _series()
    for i in (0, WARMUP, len(bars) - 1):
        assert tuple(bars.iloc[i]) == pytest.approx(truth[i], rel=1e-8)
    risk = RiskEngine(RiskLimits.from_settings(risk_limits(ctx)), store=MemoryStore())
    bt = run_backtest({SYMBOL: bars}, "sma_cross", cash=100_000.0, commission=0.0005, risk=risk, warmup=WARMUP, baseline=False,
                      lot_size=1e-6, stop=StopPolicy.from_settings(risk_limits(ctx).stop))  # the loop trades crypto in 1e-6 lots (default_lot)
    ours = _orders(loop.manager.orders())
    assert len(ours) > 4
    assert ours == _orders(bt.orders)
    assert loop.broker.portfolio.equity() == pytest.approx(bt.equity.iloc[-1], rel=1e-12)
    # A restarted host replays exactly the stored bars and rebuilds the same state.
    again = trading_loop(ctx)
    again.tick()
    assert _orders(again.manager.orders()) == ours


def test_outage_raises_the_stale_halt_and_the_gap_is_back_filled_once(tmp_path, sqlite_url, fake):
    market = Market(fake, WARMUP)
    ctx = _ctx(tmp_path, sqlite_url, market)
    loop = trading_loop(ctx)
    loop.tick()
    market.minutes(20)
    assert len(loop.tick().bars) == 20
    seen_before = loop.last_processed
    # The exchange stops answering.
    outage_at = fake.now_ms
    fake.inject("500", path="/api/v3/klines", times=1000)
    market.minutes(2)
    report = loop.tick()
    assert report.bars == [] and report.state == "running"  # 2 bars late: not yet stale (3 bars)
    market.minutes(3)
    n_orders = len(loop.manager.orders())
    report = loop.tick()
    assert report.state == "stale data" and report.bars == []
    status = toggle.loop_status(ctx.store)
    assert status["halt"] == "stale data" and status["feed_status"]["stale"] and status["stale"].startswith("no new closed bar since")
    assert status["feed_status"]["error"].startswith("binance: cannot fetch BTC/USDT 1m")
    from core.services import loop_state

    state = loop_state(ctx)
    assert state.state == "halted" and "stale data" in state.reason and state.feed == "ccxt" and state.feed_detail.startswith("live · binance")
    # Then it answers again, but with stale data (frozen where the outage began).
    fake.faults.clear()
    fake.freeze_data_at_ms = outage_at
    market.minutes(5)
    assert loop.tick().state == "stale data"
    # A new order during the halt is vetoed (no new risk); the veto is a recorded risk decision.
    from core.domain import Order, OrderType, Side

    blocked = loop.manager.submit(Order("manual-1", SYMBOL, Side.BUY, 0.5, OrderType.MARKET))
    assert blocked.status.value == "rejected" and "stale data" in (blocked.reason or "")
    assert len([o for o in loop.manager.orders() if o.status.value != "rejected"]) == len([o for o in loop.manager.orders()[:n_orders]
                                                                                           if o.status.value != "rejected"])
    # Bars resume: the halt lifts by itself and the whole gap is processed, each bar once.
    fake.freeze_data_at_ms = None
    market.minutes(1)
    report = loop.tick()
    assert report.state == "running"
    gap = pd.date_range(seen_before + pd.Timedelta("1min"), periods=len(report.bars), freq="1min")
    assert [pd.Timestamp(b) for b in report.bars] == list(gap)
    assert len(report.bars) == 11  # 2 + 3 + 5 + 1 minutes of outage and frozen data, each bar processed once
    assert loop.tick().bars == []
    stored = ctx.store.load_bars(SYMBOL, "1m", SOURCE)
    assert stored.index.is_unique and len(stored) == WARMUP + 20 + 11
    kinds = [a.message for a in reversed(ctx.store.audit_log(kind="data_halt"))]
    assert kinds[0].startswith("stale data") and kinds[-1].startswith("no data halt")
    ctx.extras["notifier"].close()
    texts = ctx.extras["recorder"].sent
    assert any("Stale market data" in t for t in texts) and any("halt lifted" in t for t in texts)
    assert loop.feed.status().outages == 1


def test_data_provider_changes_what_the_loop_trades(tmp_path, fake):
    market = Market(fake, WARMUP)
    live = trading_loop(_ctx(tmp_path / "a", f"sqlite:///{tmp_path}/a.db", market, provider="ccxt"))
    live.tick()
    replay = trading_loop(_ctx(tmp_path / "b", f"sqlite:///{tmp_path}/b.db", market, provider="sample",
                               trading={"symbols": ["AAPL"], "timeframe": "1d"}))
    replay.tick()
    assert live.session()["feed"] == "ccxt" and replay.session()["feed"] == "replay"  # "sample" is the old name
    assert live.feed.status().provider == SOURCE and live.feed.status().live
    assert fake.count("GET", "/api/v3/klines") >= 1
    assert live.feed.frames[SYMBOL].index[-1] == pd.Timestamp(T0 + (WARMUP - 1) * MINUTE, unit="ms", tz="UTC")
    assert replay.feed.status().provider == "replay" and not replay.feed.status().live
    assert replay.feed.frames["AAPL"].index[0].year == 2000  # the bundled history, not the exchange
