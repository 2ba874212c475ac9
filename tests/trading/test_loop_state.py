"""The loop's real state (services.loop_state), the alerts, the end of the replay and the lease of a dead own process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pandas as pd
import pytest

from core import services
from core.config import load_settings
from core.risk.state import RiskState
from core.trading import toggle
from core.trading.lease import Lease, holder_is_dead

SHORT = 220  # bars of each symbol the short replay has


def _cfg(**kw):
    base = {"strategy": "sma_cross", "symbols": ["AAPL", "MSFT"], "warmup_bars": 100, "bars_per_tick": 50}
    return load_settings(config_file=None, trading={**base, **kw}).trading


def _loop(ctx, **kw):
    return services.trading_loop(ctx, settings=_cfg(**kw), load=lambda s: services.load_bars(s, ctx=ctx).iloc[:SHORT])


def test_stopped_then_running_with_what_is_traded(ctx):
    assert services.loop_state(ctx).state == "stopped"
    toggle.set_enabled(ctx.store, True)
    assert services.loop_state(ctx).state == "starting"
    loop = _loop(ctx)
    loop.tick()
    st = services.loop_state(ctx)
    assert st.state == "running" and st.reason == ""
    assert (st.strategy, st.symbols, st.venue) == ("sma_cross", ["AAPL", "MSFT"], "paper")
    bar = loop.feed.calendar[149]  # warm-up ends at index 99, one tick releases 50 bars
    assert st.last_bar == bar
    assert st.feed == "replay of bundled history" and st.feed_detail == f"at {bar:%Y-%m-%d} · 50 bars/tick"
    assert st.last_bar_age == "replayed 0 s ago"


def test_kill_switch_halts_with_its_reason(ctx):
    toggle.set_enabled(ctx.store, True)
    _loop(ctx).tick()
    RiskState(ctx.store, ctx.clock).set_kill_switch(True, "ui", "too volatile")
    st = services.loop_state(ctx)
    assert st.state == "halted"
    assert st.reason == "kill switch engaged by ui (too volatile)"
    assert st.label == "halted: kill switch engaged by ui (too volatile)"
    alerts = services.alerts(ctx)
    assert alerts[0].level == "error" and "kill switch engaged" in alerts[0].message


def test_waiting_for_the_lease_names_the_holder(ctx):
    toggle.set_enabled(ctx.store, True)
    assert Lease(ctx.store, "account:paper", "other-host:1:abc").acquire()
    assert _loop(ctx).tick().state == "waiting"
    st = services.loop_state(ctx)
    assert st.state == "waiting_for_lease" and st.reason == "held by other-host:1:abc"


def test_no_tick_for_three_intervals_is_not_running(ctx, clock):
    toggle.set_enabled(ctx.store, True)
    _loop(ctx).tick()
    clock.advance(timedelta(seconds=3 * ctx.settings.scheduler.tick_seconds + 1))
    st = services.loop_state(ctx)
    assert st.state == "not_ticking" and st.reason == "no tick for 3 min"


def test_a_failed_tick_after_the_last_good_one_is_an_error(ctx, clock):
    toggle.set_enabled(ctx.store, True)
    _loop(ctx).tick()
    clock.advance(timedelta(seconds=1))
    toggle.report_status(ctx.store, last_error="trading_tick: KeyError: 'x'", last_error_at=clock.now().isoformat())
    st = services.loop_state(ctx)
    assert st.state == "error" and "KeyError" in st.reason
    assert any(a.key == "loop_error" for a in services.alerts(ctx))


def test_end_of_replay_says_exhausted_and_cancels_queued_orders(ctx):
    toggle.set_enabled(ctx.store, True)
    loop = _loop(ctx, bars_per_tick=500)
    assert loop.tick().state == "exhausted"  # 120 bars after the warm-up, all released at once
    held = services.paper_book(ctx=ctx)["positions"]
    symbol = held["symbol"].iloc[0]
    side = "sell" if held["quantity"].iloc[0] > 0 else "buy"  # reduces the position, so the risk engine approves it
    queued = services.queue_manual_order({"symbol": symbol, "side": side, "quantity": 1, "order_type": "market"}, ctx=ctx)
    assert queued["queued"], queued["reason"]
    assert loop.tick().state == "exhausted"
    assert services.pending_manual_orders(ctx) == []
    [cancelled] = services.cancelled_manual_orders(ctx)
    last = loop.feed.calendar[-1]
    assert cancelled["client_order_id"] == queued["client_order_id"]
    assert cancelled["reason"] == f"data exhausted: the replay has no bar after {last:%Y-%m-%d}"
    st = services.loop_state(ctx)
    assert st.state == "exhausted" and st.last_bar == last
    assert any(a.key == "exhausted" for a in services.alerts(ctx))


def test_saved_limits_reach_the_running_loop(ctx):
    toggle.set_enabled(ctx.store, True)
    loop = _loop(ctx)
    loop.tick()
    assert loop.risk.limits.max_position_pct == pytest.approx(0.05)
    services.save_risk_limits({"max_position_pct": 0.02}, ctx=ctx)
    loop.tick()
    assert loop.risk.limits.max_position_pct == pytest.approx(0.02)


def test_a_position_above_its_limit_is_an_alert(ctx):
    toggle.set_enabled(ctx.store, True)
    _loop(ctx, bars_per_tick=120).tick()
    pf = services.paper_book(ctx=ctx)
    positions = pf["positions"]
    assert len(positions), "the sma cross should hold something after 120 bars"
    top = positions.assign(share=positions["value"].abs() / pf["equity"]).sort_values("share").iloc[-1]
    services.save_risk_limits({"max_position_pct": min(top.share * 1.5, 1.0)}, ctx=ctx)
    assert [b for b in services.position_breaches(ctx) if b[0] == top.symbol] == []
    services.save_risk_limits({"max_position_pct": top.share / 2}, ctx=ctx)
    [(_, share, limit)] = [b for b in services.position_breaches(ctx) if b[0] == top.symbol]
    assert share == pytest.approx(top.share) and limit == pytest.approx(top.share / 2)
    assert any(a.key == f"position:{top.symbol}" and "200%" in a.message for a in services.alerts(ctx))


def test_a_dead_process_on_this_machine_loses_its_lease_at_once(ctx):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    stale = f"{socket.gethostname()}:{dead.stdout.strip()}:old"
    assert holder_is_dead(stale)
    assert not holder_is_dead(f"{socket.gethostname()}:{os.getppid()}:alive")  # a running process
    assert not holder_is_dead(f"elsewhere:{dead.stdout.strip()}:x")  # another machine: wait for expiry
    assert Lease(ctx.store, "account:paper", stale).acquire()
    me = Lease(ctx.store, "account:paper")
    assert me.acquire() is True  # no 90 s wait for our own previous run
    assert me.current().holder == me.holder


def test_a_host_shutting_down_releases_its_lease(ctx):
    from jobs.host import SchedulerHost

    toggle.set_enabled(ctx.store, True)
    loop = ctx.extras["trading_loop"] = _loop(ctx)
    loop.tick()
    assert loop.lease.current().holder == loop.lease.holder
    host = SchedulerHost(ctx, tick_seconds=3600)
    host.start()
    host.shutdown(wait=True)
    assert loop.lease.current() is None
    assert Lease(ctx.store, "account:paper", "next-run").acquire() is True


def test_book_risk_is_the_paper_equity_as_of_the_session_clock(ctx):
    import numpy as np

    from core.portfolio import repo as portfolio_repo

    toggle.set_enabled(ctx.store, True)
    loop = _loop(ctx, bars_per_tick=100)
    loop.tick()
    with pytest.raises(ValueError, match="has 99 daily returns so far; its risk needs at least 500"):
        services.book_risk(min_points=500, ctx=ctx)
    book = services.book_risk(ctx=ctx)
    assert book["asof"] == loop.last_processed  # never later than the session's current bar
    eq = pd.Series({p.ts: p.equity for p in portfolio_repo.load_equity(ctx.store, "paper")})
    r = eq.pct_change().dropna().to_numpy()
    assert book["points"] == len(r)
    assert book["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(252))
    assert book["var_99_hist_pct"] == pytest.approx(-100 * np.quantile(r, 0.01))  # a positive percent, as the key says
    peak = eq.cummax()
    assert book["max_drawdown_pct"] == pytest.approx(100 * float((1 - eq / peak).max()))
    assert list(book["correlation"].columns) == ["AAPL", "MSFT"]
    assert book["correlation"].loc["AAPL", "MSFT"] == pytest.approx(
        services.load_bars("AAPL", ctx=ctx)["close"].loc[:book["asof"]].pct_change().tail(250).corr(
            services.load_bars("MSFT", ctx=ctx)["close"].loc[:book["asof"]].pct_change().tail(250)))


@pytest.mark.parametrize(("auc", "level", "start"), [
    ({"value": 0.489, "lo": 0.46, "hi": 0.52}, "none", "No evidence of an edge: the interval covers a coin flip's 0.5 (AUC 0.489, 95 % CI 0.460 to 0.520)"),
    ({"value": 0.56, "lo": 0.53, "hi": 0.59}, "edge", "Evidence of an edge"),
    ({"value": 0.44, "lo": 0.41, "hi": 0.47}, "worse", "Worse than a coin flip"),
    (None, "unknown", "No out-of-sample score yet"),
])
def test_edge_verdict_reads_the_interval_against_a_coin_flip(auc, level, start):
    got_level, sentence = services.edge_verdict(auc)
    assert got_level == level and sentence.startswith(start)


def test_switching_the_toggle_on_wakes_the_tick_instead_of_waiting_an_interval(ctx):
    import time

    from jobs.host import SchedulerHost

    toggle.set_enabled(ctx.store, True)
    ctx.extras["trading_loop"] = _loop(ctx)
    host = SchedulerHost(ctx, tick_seconds=3600)  # without the wake-up the first tick would be an hour away
    assert host.wake() is False  # not started: nothing to wake
    host.start()
    try:
        assert toggle.loop_status(ctx.store).get("last_tick_at") is None
        assert host.wake() is True
        deadline = time.monotonic() + 120
        while toggle.loop_status(ctx.store).get("last_tick_at") is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert toggle.loop_status(ctx.store).get("last_tick_at") is not None
    finally:
        host.shutdown(wait=True)
