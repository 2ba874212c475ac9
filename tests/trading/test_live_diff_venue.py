"""Backtest-vs-live diff of a session on a real venue: Binance through ccxt against the wire-format fake (no internet).

The venue fills a market order at its own price when the loop sends it, right after the bar
closed; the diff's backtest fills it at that bar's close with the venue's lot size, over the bars
the live feed stored. Untouched, the session and its backtest agree order by order; slippage, a
venue reject, a partial fill and a late tick (latency: a missed bar) injected at the fake are each
found and classified at the bar of the order they hit. The expected bars come from the moving
averages recomputed with pandas, not from the loop. A paper session on the same live feed diffs empty too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import services
from core.services import Context, trading_loop
from core.trading import toggle
from tests.fakes.binance_fake import T0, BinanceFake
from tests.fakes.kits import SECRETS
from tests.trading._venue import MINUTE, VENUE_SYMBOL, WARMUP, Market, series, venue_settings

FAST, SLOW = 5, 12
MINUTES = 60  # bars WARMUP .. WARMUP + MINUTES - 1 are traded, one per tick
INJECT = 20  # injections start with the tick of bar WARMUP + INJECT


def _bar(i: int) -> pd.Timestamp:
    return pd.Timestamp(T0 + i * MINUTE, unit="ms", tz="UTC")


def _order_bars() -> list[int]:
    """Bars where sma_cross (long_flat) trades: a strict cross up when flat, a strict cross down when long (pandas reference)."""
    close = pd.Series([b[3] for b in series()])
    side = np.sign(close.rolling(FAST).mean() - close.rolling(SLOW).mean()).to_numpy()
    out, long = [], False
    for i in range(WARMUP, WARMUP + MINUTES):
        if side[i - 1] == -1 and side[i] == 1 and not long:
            out.append(i)
            long = True
        elif side[i - 1] == 1 and side[i] == -1 and long:
            out.append(i)
            long = False
    return out


@pytest.fixture
def fake():
    key, secret = SECRETS["binance"]
    with BinanceFake(api_key=key, api_secret=secret) as venue:
        venue.serve_klines(VENUE_SYMBOL, series())
        yield venue


def _session(tmp_path, db_url, fake, inject=None, venue="binance"):
    """Trade MINUTES one-minute bars at the fake, a tick a minute; ``inject(m, fake)`` runs before tick m and returns True to skip it."""
    market = Market(fake, series(), WARMUP)
    settings = venue_settings(tmp_path, db_url, fake, venue=venue)
    settings.trading.params = {"fast": FAST, "slow": SLOW, "mode": "long_flat"}  # a spot account cannot go short
    ctx = Context.create(settings, clock=market.clock)
    toggle.set_enabled(ctx.store, True)
    loop = trading_loop(ctx)
    loop.tick()
    for m in range(MINUTES):
        market.minutes(1)
        if inject is not None and inject(m, fake):
            continue
        loop.tick()
    return ctx, loop


def _first(out):
    first = out["first_divergence"]
    assert first is not None, "the diff should have found a divergence"
    return pd.Timestamp(first["ts"]), first["cause"]


def test_venue_session_matches_its_backtest_order_by_order(tmp_path, sqlite_url, fake):
    ctx, loop = _session(tmp_path, sqlite_url, fake)
    session = ctx.store.get_setting("loop.paper.session")
    assert session["broker"] == "binance" and session["lots"] == {"BTC/USDT": 1e-5}  # the fake's LOT_SIZE step
    expected = _order_bars()
    orders = loop.manager.orders()
    assert sorted(pd.Timestamp(o.client_order_id.rsplit("-", 2)[1]).tz_localize("UTC") for o in orders) == [_bar(i) for i in expected]
    assert all(len(fake.orders_with_client_id(o.client_order_id)) == 1 and o.status.value == "filled" for o in orders)
    out = services.session_diff(ctx=ctx)
    assert out["n_divergences"] == 0 and out["first_divergence"] is None
    assert out["bars"] == MINUTES and out["orders_live"] == out["orders_backtest"] == len(expected) > 4
    assert out["match_pct"] == 100.0 and out["pnl_diff"] == pytest.approx(0.0, abs=1e-6)
    # Marked at every bar's close like the backtest; at the end worth the fake's balances at the last close.
    assert out["equity"]["live"] == pytest.approx(out["equity"]["backtest"], abs=1e-6)
    last_close = series()[WARMUP + MINUTES - 1][3]
    assert out["equity"]["live"][-1] == pytest.approx(fake.free["USDT"] + fake.free["BTC"] * last_close, abs=1e-5)
    print(f"venue diff: {out['n_divergences']} divergences over {out['bars']} bars and {out['orders_live']} orders")


def test_paper_session_on_the_live_feed_matches_its_backtest(tmp_path, sqlite_url, fake):
    """The paper broker on the venue's live bars (``brokers.default: paper``): the diff replays the bars the feed stored."""
    ctx, loop = _session(tmp_path, sqlite_url, fake, venue="paper")
    session = ctx.store.get_setting("loop.paper.session")
    assert (session["broker"], session["feed"]) == ("paper", "ccxt") and fake.orders == []
    out = services.session_diff(ctx=ctx)
    assert out["n_divergences"] == 0 and out["bars"] == MINUTES and out["orders_live"] == out["orders_backtest"] == len(loop.manager.orders()) > 4
    assert out["pnl_diff"] == pytest.approx(0.0, abs=1e-6)


def test_slippage_at_the_venue_is_a_fill_price_divergence_at_its_bar(tmp_path, sqlite_url, fake):
    def slip(m, venue):
        if m >= INJECT:
            venue.prices[VENUE_SYMBOL] *= 1.0007  # the venue fills 7 bp above the last close from here on
        return False

    ctx, _ = _session(tmp_path, sqlite_url, fake, slip)
    hit = next(i for i in _order_bars() if i >= WARMUP + INJECT)
    out = services.session_diff(ctx=ctx)
    assert _first(out) == (_bar(hit), "fill_price")
    assert "+7.0 bp" in out["first_divergence"]["detail"]


def test_venue_reject_is_found_at_its_bar(tmp_path, sqlite_url, fake):
    def reject(m, venue):
        if m == INJECT:
            venue.reject_next = "Trading is halted for this symbol."  # the next order the venue sees
        return False

    ctx, loop = _session(tmp_path, sqlite_url, fake, reject)
    hit = next(i for i in _order_bars() if i >= WARMUP + INJECT)
    out = services.session_diff(ctx=ctx)
    assert _first(out) == (_bar(hit), "venue_reject")
    rejected = [o for o in loop.manager.orders() if o.status.value == "rejected"]
    assert len(rejected) == 1 and out["first_divergence"]["client_order_id"] == rejected[0].client_order_id
    assert "halted" in out["first_divergence"]["detail"]


def test_partial_fill_at_the_venue_is_found_at_its_bar(tmp_path, sqlite_url, fake):
    def partial(m, venue):
        if m == INJECT:
            venue.partial_next = 0.5  # the venue fills half the next order; the rest rests
        return False

    ctx, _ = _session(tmp_path, sqlite_url, fake, partial)
    hit = next(i for i in _order_bars() if i >= WARMUP + INJECT)
    assert _first(services.session_diff(ctx=ctx)) == (_bar(hit), "partial_fill")


def test_a_late_tick_is_latency_at_the_bar_whose_order_went_out_late(tmp_path, sqlite_url, fake):
    hit = next(i for i in _order_bars() if i >= WARMUP + INJECT)
    late = range(hit - WARMUP - 1, hit - WARMUP + 2)  # the host misses three ticks around that order's bar

    ctx, _ = _session(tmp_path, sqlite_url, fake, lambda m, venue: m in late)
    out = services.session_diff(ctx=ctx)
    assert _first(out) == (_bar(hit), "missed_bar")
    assert out["first_divergence"]["label"] == "latency / missed bar"
    caught_up = _bar(WARMUP + late[-1] + 1)  # the tick after the gap sent it: the venue filled at that bar's close
    assert f"filled at {caught_up:%Y-%m-%d %H:%M} live vs {_bar(hit):%Y-%m-%d %H:%M} in the backtest" in out["first_divergence"]["detail"]
