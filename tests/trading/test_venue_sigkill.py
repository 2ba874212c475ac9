"""SIGKILL the standalone host again and again while it trades the Binance fake: no order doubled or lost at the venue.

The host is ``python -m jobs`` (a separate process with its real clock) trading BTC/USDT with
``brokers.default: binance`` against the wire-format fake through the real ccxt client; the
fake runs in this process, so it outlives every kill.

Which bars are closed
---------------------
The live feed calls a bar closed once its close time is at or before the earlier of the
host's clock and the exchange's own clock (``GET /api/v3/time``, see
:meth:`core.trading.feeds.live.LiveFeed._provider_now`); staleness is measured on the host's
clock, so a stuck exchange is noticed. Both rules want an exchange whose clock is the wall
clock, as a real one's is (real Binance also refuses signed requests whose timestamp is off by
more than ``recvWindow``). So the fake's clock here *is* the wall clock and the session trades
Binance's 1-second klines (``trading.timeframe: 1s``): a new closed bar every second, and the
host and the fake agree on which bars are closed by the same rule as against the real
exchange. The bars are real BTC-USD prices (the bundled 15-minute bars, one a second); the
fake's price is the last closed bar's close, so the host's market orders fill at the price of
the bar that made them. ``brokers.binance.rate_limit_ms`` lifts ccxt's pacing of
Binance's request weights, which the fake does not enforce (a restart's reconciliation would
otherwise take seconds).

Each round: start a host, wait until it has traded a bar (so it recovered and reconciled),
hold the market (the fake's clock and price stop: no new bar, nothing left to trade), wait until
the host stored the last bar closed by then, then compare the store with the fake: every venue
order under a unique client ID that is in the store, in the venue's state; every order the
store says the venue took is at the venue; every venue fill stored once; cash and BTC equal to
the venue's balances. Then the market runs again (the held bars arrive at once, as after an
exchange hiccup) and the host is killed with SIGKILL: half the time at a random moment within
1.5 seconds (mostly mid-tick), half the time the moment the venue has taken its next order,
before or just after the venue's answer leaves (the window where the venue knows an order the
store does not). Some hosts are also killed a random moment after their start, during
start-up, recovery or the back-fill.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.brokers._venue import venue_client_id
from core.brokers.binance import _CID_CHARS
from core.config import load_settings
from core.domain import OrderStatus
from core.execution import repo as order_repo
from core.portfolio import repo as portfolio_repo
from core.services import Context
from core.trading import toggle
from tests.fakes._http import Reply, Request
from tests.fakes.binance_fake import BinanceFake
from tests.fakes.kits import SECRETS
from tests.trading._venue import SYMBOL, VENUE_SYMBOL

ROOT = Path(__file__).resolve().parents[2]
KILLS = 10  # hosts killed while trading (plus the ones killed during start-up)
STEP_MS = 1_000  # Binance 1s klines
HISTORY = 70  # closed bars before the first start (the warm-up needs 60)
ACCOUNT = "paper"  # trading.account: the loop's account name, whatever the venue
PARAMS = {"fast": 2, "slow": 4, "mode": "long_flat"}  # on these bars a cross every 3.4 bars on average: many orders


def _btc_bars(n: int) -> list[tuple[float, float, float, float, float]]:
    """Real BTC-USD prices (the bundled 15-minute bars), served as 1-second klines."""
    from core.data.providers import SampleProvider

    frame = SampleProvider(str(ROOT / "data" / "sample")).bars("BTC-USD", "15m").iloc[:n]
    return list(frame[["open", "high", "low", "close", "volume"]].itertuples(index=False, name=None))


def _ms() -> int:
    return time.time_ns() // 1_000_000


class KillingFake(BinanceFake):
    """The Binance fake that can call back (to kill the host) right after it took an order, before its answer is sent."""

    on_order: Any = None

    def route(self, req: Request) -> Reply:
        reply = super().route(req)
        if req.method == "POST" and req.path == "/api/v3/order" and reply.status == 200 and self.on_order is not None:
            callback, self.on_order = self.on_order, None
            callback()
        return reply


class WallClockMarket:
    """The fake exchange's clock follows the wall clock; its price is the last closed bar's close.

    :meth:`hold` stops both (no new bar closes, the price stays), :meth:`run` lets them go on:
    the clock jumps to the wall clock, so the held bars arrive at once.
    """

    def __init__(self, fake: BinanceFake, bars: list[tuple[float, ...]], start_ms: int) -> None:
        self.fake, self.bars, self.start_ms = fake, bars, start_ms
        self.held = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._move()
        self._thread.start()

    def _move(self) -> None:
        with self.fake.lock:
            if self.held:
                return
            now = max(self.fake.now_ms, _ms())
            closed = min(max((now - self.start_ms) // STEP_MS, 1), len(self.bars))
            price = self.bars[closed - 1][3]
            if price != self.fake.prices[VENUE_SYMBOL]:
                self.fake.set_price(VENUE_SYMBOL, price, advance_ms=0)  # also works resting orders
            self.fake.now_ms = now

    def _follow(self) -> None:
        while not self._stop.wait(0.02):
            self._move()

    def hold(self) -> pd.Timestamp:
        """Stop the market; return the open time of the last bar closed by then."""
        with self.fake.lock:
            self.held = True
            self.fake.freeze_data_at_ms = self.fake.now_ms  # klines and server time (an order still moves now_ms by a ms)
            closed = (self.fake.now_ms - self.start_ms) // STEP_MS
        return pd.Timestamp(self.start_ms + (closed - 1) * STEP_MS, unit="ms", tz="UTC")

    def run(self) -> None:
        with self.fake.lock:
            self.held = False
            self.fake.freeze_data_at_ms = None
        self._move()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _env(db: str, tmp_path: Path, fake: BinanceFake) -> dict[str, str]:
    key, secret = SECRETS["binance"]
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("APP__")},
        "APP__STORE__DATABASE_URL": db, "APP__LOG__DIR": str(tmp_path / "logs"), "APP__SCHEDULER__TICK_SECONDS": "0.2",
        "APP__BROKERS__DEFAULT": "binance", "APP__BROKERS__BINANCE__API_KEY": key, "APP__BROKERS__BINANCE__API_SECRET": secret,
        "APP__BROKERS__BINANCE__BASE_URL": fake.url, "APP__BROKERS__BINANCE__RATE_LIMIT_MS": "1",
        "APP__DATA__PROVIDER": "venue", "APP__DATA__STALE_AFTER_BARS": "10",
        "APP__TRADING__STRATEGY": "sma_cross", "APP__TRADING__SYMBOLS": json.dumps([SYMBOL]), "APP__TRADING__TIMEFRAME": "1s",
        "APP__TRADING__WARMUP_BARS": "60", "APP__TRADING__PARAMS": json.dumps(PARAMS), "APP__TRADING__COMMISSION": "0.001",
        "APP__TRADING__LEASE_SECONDS": "1",
        # three days of 15-minute prices squeezed into seconds: no daily loss cap, no protective stops (as in the other venue-loop tests)
        "APP__RISK__DAILY_LOSS_CAP_PCT": "0.5", "APP__RISK__STOP__ENABLED": "false",
    }  # fmt: skip


class Host:
    """One ``python -m jobs`` process, its output in a file (shown when the test fails)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "jobs"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    @property
    def tag(self) -> str:
        return f":{self.proc.pid}:"  # the lease holder (hostname:pid:random) names the process

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)

    def reap(self) -> None:
        self.proc.wait(timeout=10)
        assert self.proc.returncode == -signal.SIGKILL, f"the host ended by itself ({self.proc.returncode}):\n{self.tail()}"

    def tail(self) -> str:
        return self.log.read_text()[-3000:]


def _wait(cond: Any, host: Host, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if host.proc.poll() is not None:
            pytest.fail(f"the host exited ({host.proc.returncode}) while waiting for {what}:\n{host.tail()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}:\n{host.tail()}")
        time.sleep(0.05)


def _ticked(ctx: Context, host: Host) -> bool:
    """Return True once ``host`` finished a tick (the status names the lease holder of the last tick)."""
    return host.tag in str(toggle.loop_status(ctx.store).get("host", ""))


def _last_bar(ctx: Context) -> pd.Timestamp | None:
    value = ctx.store.get_setting(f"loop.{ACCOUNT}.last_bar")
    return pd.Timestamp(value) if value else None


def _traded_and_held(ctx: Context, host: Host, market: WallClockMarket) -> None:
    """Wait until ``host`` processed a bar, hold the market, wait until it stored the last closed bar: nothing is left to trade."""
    before = _last_bar(ctx)
    _wait(lambda: _ticked(ctx, host) and _last_bar(ctx) != before, host, "the restarted host to trade a bar")
    last_closed = market.hold()
    _wait(lambda: _last_bar(ctx) == last_closed, host, f"the host to catch up with the held market ({last_closed})")


def _compare_with_venue(ctx: Context, fake: BinanceFake) -> dict[str, int]:
    """Assert that the store and the (held) venue agree on orders, fills, cash and position; return the counts."""
    with fake.lock:
        venue = [{k: o[k] for k in ("orderId", "clientOrderId", "status", "executedQty")} for o in fake.orders]
        trade_ids = sorted(str(t["id"]) for t in fake.trades)
        usdt = fake.free["USDT"] + fake.locked.get("USDT", 0.0)
        btc = fake.free["BTC"] + fake.locked.get("BTC", 0.0)
    stored = order_repo.load_orders(ctx.store, ACCOUNT)
    cids = [o["clientOrderId"] for o in venue]
    doubled = len(cids) - len(set(cids))
    assert doubled == 0, f"client IDs placed more than once at the venue: {sorted(c for c in set(cids) if cids.count(c) > 1)}"
    ours = {venue_client_id(o.client_order_id, 36, _CID_CHARS): o for o in stored}
    unknown = [o for o in venue if o["clientOrderId"] not in ours]
    assert unknown == [], f"orders at the venue that the store does not know (lost): {unknown}"
    for v in venue:  # the store holds each venue order under the venue's order ID, in the venue's state
        mine = ours[v["clientOrderId"]]
        assert mine.broker_order_id == str(v["orderId"])
        assert (mine.status.value, mine.filled_quantity) == (v["status"].lower(), pytest.approx(float(v["executedQty"]), abs=1e-12)), mine
    at_venue = {str(v["orderId"]) for v in venue}
    missing = [o.client_order_id for o in stored if o.broker_order_id and o.broker_order_id not in at_venue]
    assert missing == [], f"orders the store says the venue took, unknown at the venue: {missing}"
    # The rest never reached the venue's book: refused by our risk gate or by the venue (a spot account cannot sell what it lacks).
    never = [o for o in stored if not o.broker_order_id]
    assert all(o.status is OrderStatus.REJECTED for o in never), [(o.client_order_id, o.status, o.reason) for o in never]
    fills = [f.fill_id.rsplit(":", 1)[1] for f in portfolio_repo.load_fills(ctx.store, ACCOUNT)]
    assert sorted(fills) == trade_ids, "every venue fill is stored exactly once"
    state = portfolio_repo.load_state(ctx.store, ACCOUNT)
    assert state is not None
    assert state.cash == pytest.approx(usdt, abs=1e-6)
    assert state.quantity(SYMBOL) == pytest.approx(btc, abs=1e-9)
    return {"orders": len(venue), "fills": len(trade_ids), "doubled": doubled, "lost": len(unknown) + len(missing)}


def _arm_kill_at_next_order(fake: KillingFake, host: Host, delay: float) -> threading.Event:
    """Have ``host`` killed ``delay`` s after the venue takes its next order (0: before the venue's answer is sent)."""
    fired = threading.Event()

    def kill() -> None:
        fired.set()
        if delay == 0:
            host.kill()
        else:
            threading.Timer(delay, host.kill).start()

    with fake.lock:
        fake.on_order = kill
    return fired


def _await_kill(fake: KillingFake, host: Host, fired: threading.Event, timeout: float = 6.0) -> bool:
    """Wait for the armed kill; kill ``host`` anyway when no order came within ``timeout`` s. Return True if an order came."""
    fired.wait(timeout)
    with fake.lock:
        fake.on_order = None
    if not fired.is_set():
        host.kill()
    return fired.is_set()


@pytest.mark.slow
def test_sigkill_while_trading_the_binance_fake_doubles_and_loses_nothing(tmp_path):
    db = f"sqlite:///{tmp_path / 'loop.db'}"
    key, secret = SECRETS["binance"]
    bars = _btc_bars(600)  # 70 s of history, then eight minutes of bars: more than the test lasts
    start_ms = (_ms() // STEP_MS - HISTORY) * STEP_MS
    rng = random.Random(20261214)
    counts = {"random": 0, "before the venue's answer to an order": 0, "just after it": 0, "during start-up": 0}
    hosts: list[Host] = []
    with KillingFake(api_key=key, api_secret=secret) as fake:
        fake.serve_klines(VENUE_SYMBOL, bars, start_ms=start_ms, interval_ms=STEP_MS)
        market = WallClockMarket(fake, bars, start_ms)
        env = _env(db, tmp_path, fake)
        ctx = Context.create(load_settings(config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": db},
                                           log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False}))
        toggle.set_enabled(ctx.store, True)
        try:
            for round_ in range(KILLS + 1):
                if round_ % 3 == 2:  # killed a random moment after its start: start-up, recovery or back-fill
                    hosts.append(host := Host(env, tmp_path / f"host-{round_}-early.log"))
                    time.sleep(rng.uniform(0.3, 3.5))
                    host.kill()
                    host.reap()
                    counts["during start-up"] += 1
                hosts.append(host := Host(env, tmp_path / f"host-{round_}.log"))
                _traded_and_held(ctx, host, market)
                final = _compare_with_venue(ctx, fake)
                if round_ == KILLS:  # the last host is checked like the others, then stopped politely
                    host.proc.send_signal(signal.SIGTERM)
                    assert host.proc.wait(timeout=30) == 0, host.tail()
                    break
                at_order = round_ % 2 == 1  # else at a random moment
                delay = 0.0 if round_ % 4 == 1 else rng.uniform(0.0, 0.03)
                fired = _arm_kill_at_next_order(fake, host, delay) if at_order else None
                market.run()  # the held bars arrive at once
                if fired is not None:
                    kind = ("before the venue's answer to an order" if delay == 0 else "just after it") if _await_kill(fake, host, fired) else "random"
                    counts[kind] += 1
                else:
                    time.sleep(rng.uniform(0.0, 1.5))  # most of these land mid-tick
                    host.kill()
                    counts["random"] += 1
                host.reap()
        finally:
            market.stop()
            for h in hosts:
                if h.proc.poll() is None:
                    h.proc.kill()
                    h.proc.wait(timeout=10)

    errors = ctx.store.audit_log(kind="loop_error")
    assert errors == [], [e.data for e in errors][:3]
    session = ctx.store.get_setting(f"loop.{ACCOUNT}.session")
    assert (session["broker"], session["feed"], session["timeframe"]) == ("binance", "venue", "1s")
    # Every bar from the end of the warm-up to the last processed one was processed once: one equity point each.
    start = pd.Timestamp(ctx.store.get_setting(f"feed.{ACCOUNT}.start"))
    curve = [pd.Timestamp(p.ts) for p in portfolio_repo.load_equity(ctx.store, ACCOUNT)]
    curve = [t.tz_localize("UTC") if t.tzinfo is None else t for t in curve]
    assert curve == list(pd.date_range(start + pd.Timedelta(seconds=1), _last_bar(ctx), freq="1s"))
    kills = sum(counts.values())
    assert kills - counts["during start-up"] == KILLS and final["doubled"] == 0 and final["lost"] == 0
    assert final["fills"] >= 10, "the hosts should have traded often enough for the kills to matter"
    # Each kill before the venue's answer left the venue with a (filled) order the store did not have: the next host adopted it.
    adopted = sum(len(a.data.get("adopted") or []) for a in ctx.store.audit_log(kind="reconcile_difference"))
    assert adopted >= counts["before the venue's answer to an order"]
    print(f"\nvenue SIGKILL: kills survived {kills} ({', '.join(f'{n} {k}' for k, n in counts.items())}), bars processed {len(curve)}, "
          f"orders at the venue {final['orders']} (fills {final['fills']}), adopted from the venue after a kill {adopted}, "
          f"doubled {final['doubled']}, lost {final['lost']}")
