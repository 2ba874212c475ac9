"""Backtest-vs-live diff: empty on the replay feed, and each injected cause found and classified at its bar."""

from __future__ import annotations

import pandas as pd
import pytest

from core import services
from core.services import trading_loop
from tests.trading._loop import WARMUP, loop_ctx

_ctx = loop_ctx


def _run(ctx, ticks, loop=None):
    loop = loop or trading_loop(ctx)
    for _ in range(ticks):
        loop.tick()
    return loop


def test_replay_session_has_no_divergence(tmp_path, sqlite_url):
    ctx = _ctx(tmp_path, sqlite_url)
    loop = _run(ctx, 8)
    out = services.session_diff(ctx=ctx)
    assert out["n_divergences"] == 0 and out["first_divergence"] is None
    assert out["bars"] == 8 * 40 and out["orders_live"] == out["orders_backtest"] == len(loop.manager.orders()) > 10
    assert out["match_pct"] == 100.0 and out["pnl_diff"] == pytest.approx(0.0, abs=1e-6)
    assert out["equity"]["live"][-1] == pytest.approx(loop.broker.portfolio.equity(), abs=5e-7)  # the curve is rounded to 6 decimals
    days = services.diff_days(ctx=ctx)
    assert len(days) == 8 * 40 and all(d["divergences"] == 0 and d["match_pct"] == 100.0 for d in days)
    assert sum(d["orders_live"] for d in days) == out["orders_live"]
    # the job runs once per new bar range only
    assert services.run_diff_job(ctx) is None
    print(f"replay diff: {out['n_divergences']} divergences over {out['bars']} bars and {out['orders_live']} orders")


def _first(out):
    first = out["first_divergence"]
    assert first is not None, "the diff should have found a divergence"
    return pd.Timestamp(first["ts"]), first["cause"]


def _boundary(loop, ticks):
    """The first bar of tick ``ticks + 1`` (what was changed between ticks acts from there)."""
    return loop.feed.calendar[WARMUP - 1 + ticks * 40 + 1]


def test_slippage_is_found_at_the_first_fill_after_it_starts(tmp_path, sqlite_url):
    from core.brokers.paper.fill_model import FillModel

    ctx = _ctx(tmp_path, sqlite_url)
    loop = _run(ctx, 3)
    loop.broker.fill_model = FillModel.flat_commission(0.0005, slippage_bps=7.0)  # the venue starts slipping
    _run(ctx, 3, loop)
    start = _boundary(loop, 3)
    first_slipped = min(f.ts for f in loop.broker.fills() if pd.Timestamp(f.ts) >= start)
    ts, cause = _first(services.session_diff(ctx=ctx))
    assert (ts, cause) == (pd.Timestamp(first_slipped), "fill_price")
    assert "+7.0 bp" in services.diff_status(ctx=ctx)["first_divergence"]["detail"]


def test_partial_fill_is_found(tmp_path, sqlite_url):
    from core.brokers.paper.fill_model import FillModel

    ctx = _ctx(tmp_path, sqlite_url)
    loop = _run(ctx, 3)
    loop.broker.fill_model = FillModel.flat_commission(0.0005, max_volume_share=1e-6)  # thin book: a few shares a bar
    _run(ctx, 2, loop)
    start = _boundary(loop, 3)
    first_fill = min(f.ts for f in loop.broker.fills() if pd.Timestamp(f.ts) >= start)
    ts, cause = _first(services.session_diff(ctx=ctx))
    assert (ts, cause) == (pd.Timestamp(first_fill), "partial_fill")


def test_venue_reject_is_found_at_its_bar(tmp_path, sqlite_url, monkeypatch):
    from core.brokers.base import OrderRejected
    from core.brokers.paper import PaperBroker

    ctx = _ctx(tmp_path, sqlite_url)
    loop = _run(ctx, 3)
    victim = {}
    real = PaperBroker._validate

    def picky(self, order):
        if not victim and pd.Timestamp(self.clock.now()) >= _boundary(loop, 3) and order.tags.get("source") != "manual":
            victim[order.client_order_id] = pd.Timestamp(self.clock.now())
        if order.client_order_id in victim:
            raise OrderRejected("instrument halted by the venue")
        return real(self, order)

    monkeypatch.setattr(PaperBroker, "_validate", picky)
    _run(ctx, 2, loop)
    monkeypatch.undo()
    out = services.session_diff(ctx=ctx)
    (cid, at), = victim.items()
    assert _first(out) == (at, "venue_reject") and out["first_divergence"]["client_order_id"] == cid
    assert "instrument halted" in out["first_divergence"]["detail"]


def test_missed_bar_found_both_ways(tmp_path, sqlite_url):
    ctx = _ctx(tmp_path, sqlite_url)
    loop = _run(ctx, 4)
    gone = loop.feed.calendar[WARMUP + 150]  # a bar the loop processed, later missing from the stored data

    def without(symbol):
        frame = services.load_bars(symbol, ctx=ctx)
        return frame.drop(index=gone, errors="ignore")

    out = services.session_diff(ctx=ctx, load=without, save=False)
    assert _first(out) == (gone, "missed_bar")
    assert "no longer has" in out["first_divergence"]["detail"]
    # the other way: the loop skipped a bar that the stored data has
    ctx2 = _ctx(tmp_path / "b", f"sqlite:///{tmp_path}/b.db")
    _run(ctx2, 4, trading_loop(ctx2, load=without))
    out = services.session_diff(ctx=ctx2, save=False)
    assert _first(out) == (gone, "missed_bar") and "never processed" in out["first_divergence"]["detail"]


def test_manual_ticket_is_a_manual_action_at_the_bar_it_was_sent(tmp_path, sqlite_url):
    ctx = _ctx(tmp_path, sqlite_url)
    loop = _run(ctx, 3)
    queued = services.queue_manual_order({"symbol": "MSFT", "side": "buy", "quantity": 3}, ctx=ctx)
    assert queued["queued"]
    _run(ctx, 1, loop)
    out = services.session_diff(ctx=ctx)
    assert _first(out) == (_boundary(loop, 3), "manual_action")
    assert out["first_divergence"]["client_order_id"].startswith(queued["client_order_id"])


def test_risk_limit_changed_mid_session_is_a_risk_decision(tmp_path, sqlite_url):
    ctx = _ctx(tmp_path, sqlite_url)
    loop = _run(ctx, 3)
    services.save_risk_limits({"max_position_pct": 0.01}, ctx=ctx)
    _run(ctx, 3, loop)
    start = _boundary(loop, 3)
    shrunk = min(pd.Timestamp(o.created_at) for o in loop.manager.orders()
                 if pd.Timestamp(o.created_at) >= start and o.tags.get("risk_shrunk_from") is not None)
    out = services.session_diff(ctx=ctx)
    assert _first(out) == (shrunk, "risk_decision")
    assert out["gap_pct"] > 0


def test_cli_diff_reports_the_session_and_says_what_to_do_without_one(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    db = f"sqlite:///{tmp_path}/cli.db"

    def cli(*args):
        env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": db, "APP__LOG__DIR": str(tmp_path), "APP__SCHEDULER__EMBEDDED": "false"}
        return subprocess.run([sys.executable, "-m", "core", "diff", *args], cwd=root, capture_output=True, text=True, env=env, timeout=600)

    none = cli()
    errors = [line for line in none.stderr.splitlines() if not line.startswith("note: ")]  # a new store is announced on a note line
    assert none.returncode == 2 and len(errors) == 1 and "start paper trading first" in errors[0]
    ctx = _ctx(tmp_path, db)
    loop = _run(ctx, 3)
    assert services.queue_manual_order({"symbol": "MSFT", "side": "buy", "quantity": 3}, ctx=ctx)["queued"]
    _run(ctx, 1, loop)
    r = cli("--session", "paper", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["first_divergence"]["cause"] == "manual_action" and out["first_divergence"]["ts"] == _boundary(loop, 3).isoformat()
    assert out["bars"] == 160 and out["orders_live"] == len(loop.manager.orders()) and "equity" not in out
    text = cli("--account", "paper", "--no-save")
    assert text.returncode == 0 and "manual action" in text.stdout and f"first at {_boundary(loop, 3).isoformat()[:19]}" in text.stdout
    assert [d["day"] for d in services.diff_days(ctx=ctx)][:1] == [f"{loop.feed.calendar[WARMUP]:%Y-%m-%d}"]


class _Recorder:
    name = "discord"

    def __init__(self):
        self.sent = []

    def send(self, text, subject=""):
        self.sent.append(text)


def test_gap_above_the_threshold_is_notified_once_per_bar_and_the_job_runs_it(tmp_path, sqlite_url):
    from core.config import NotifySettings
    from core.notify.notifier import Notifier

    ctx = _ctx(tmp_path, sqlite_url)
    channel = _Recorder()
    ctx.extras["notifier"] = Notifier(NotifySettings(discord_enabled=True, events=["live_gap"]), ctx.clock, channels={"discord": channel})
    loop = _run(ctx, 3)
    assert services.run_diff_job(ctx)["n_divergences"] == 0 and channel.sent == []  # gap 0: silent
    assert services.queue_manual_order({"symbol": "MSFT", "side": "buy", "quantity": 3}, ctx=ctx)["queued"]
    _run(ctx, 1, loop)
    ctx.settings.trading.diff_alert_pct = 99.0  # gap below it: silent
    out = services.run_diff_job(ctx)
    assert 0 < out["gap_pct"] < 99 and channel.sent == []
    ctx.settings.trading.diff_alert_pct = out["gap_pct"] / 2
    _run(ctx, 1, loop)
    out = services.run_diff_job(ctx)
    assert out["gap_pct"] > out["threshold_pct"] and len(channel.sent) == 1
    assert "manual action" in channel.sent[0] and "trading.diff_alert_pct" in channel.sent[0]
    services.session_diff(ctx=ctx)  # same last bar: not notified again
    assert len(channel.sent) == 1
    assert [a.kind for a in ctx.store.audit_log(kind="live_diff")] == ["live_diff"] * 4


def test_scheduler_runs_the_diff_job(tmp_path, sqlite_url):
    from datetime import timedelta

    import jobs.tasks
    from core.services import set_context
    from jobs.host import SchedulerHost

    ctx = _ctx(tmp_path, sqlite_url)
    ctx.settings.scheduler.diff_minutes = 30.0
    set_context(ctx)
    try:
        host = SchedulerHost(ctx, tick_seconds=3600)
        host.start()
        try:
            assert host.scheduler.get_job("live_diff").trigger.interval == timedelta(minutes=30)
        finally:
            host.shutdown(wait=True)
        jobs.tasks.live_diff()  # no session yet: nothing to do, no error
        assert services.diff_status(ctx=ctx) is None and not ctx.store.audit_log(kind="loop_error")
        _run(ctx, 2)
        jobs.tasks.live_diff()
        assert services.diff_status(ctx=ctx)["bars"] == 80 and services.diff_status(ctx=ctx)["n_divergences"] == 0
    finally:
        set_context(None)


def test_ensemble_session_signals_match_and_a_changed_one_is_found_at_its_bar(tmp_path, sqlite_url):
    from sqlmodel import select

    from core.store.tables import SignalRow
    from tests.trading._loop import SYMBOLS

    warmup = 400
    ctx = _ctx(tmp_path, sqlite_url, strategy="ensemble", warmup_bars=warmup, bars_per_tick=60, params={"min_probability": 0.5})
    ctx.extras["models_dir"] = tmp_path / "models"
    calendar = ctx.sample.bars("AAPL").index.union(ctx.sample.bars("MSFT").index)
    pre = {s: ctx.sample.bars(s).loc[: calendar[warmup - 1 - 5]] for s in SYMBOLS}  # ends before the session's 5-bar embargo
    services.train(SYMBOLS, horizon=5, preset="tiny", bars=pre, regime=False, importance_rows=0, ctx=ctx)
    loop = _run(ctx, 2)
    out = services.session_diff(ctx=ctx, save=False)
    assert out["n_divergences"] == 0 and out["orders_live"] == out["orders_backtest"] == len(loop.manager.orders())
    assert out["signals"] == out["signals_matched"] == 2 * 120  # a p(up) per symbol and bar, the same in the backtest
    with ctx.store.session() as s:  # the live model said something else on one bar (e.g. other library versions)
        row = s.exec(select(SignalRow).where(SignalRow.symbol == "MSFT").order_by(SignalRow.ts).offset(30)).first()
        row.p_up = 1.0 - row.p_up
        s.add(row)
        s.commit()
        at = pd.Timestamp(row.ts).tz_localize("UTC") if row.ts.tzinfo is None else pd.Timestamp(row.ts)
    out = services.session_diff(ctx=ctx, save=False)
    assert _first(out) == (at, "data_difference") and out["first_divergence"]["detail"].startswith("MSFT: signal p(up)")
    assert out["signals_matched"] == out["signals"] - 1
