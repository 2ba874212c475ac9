"""The paper-trading loop: parity with the backtester, restarts, crashes mid-bar, the lease."""

from __future__ import annotations

import pandas as pd
import pytest

from core.backtest.run import run_backtest
from core.engine import StopPolicy
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.state import MemoryStore
from core.services import risk_limits, trading_loop
from core.trading import toggle
from tests.trading._loop import SYMBOLS, WARMUP, loop_ctx

_ctx = loop_ctx


def _orders(loop):
    return [(o.client_order_id, o.side.value, o.quantity, o.status.value, round(o.avg_fill_price or 0, 9)) for o in loop.manager.orders()]


def _fills(loop):
    return [(f.client_order_id, f.quantity, round(f.price, 9), round(f.fee, 9), f.ts) for f in loop.broker.fills()]


def test_loop_matches_the_backtester_bar_by_bar(tmp_path, sqlite_url):
    ctx = _ctx(tmp_path, sqlite_url)
    loop = trading_loop(ctx)
    for _ in range(8):
        loop.tick()
    last = loop.last_processed
    frames = {s: ctx.sample.bars(s).loc[:last] for s in SYMBOLS}
    risk = RiskEngine(RiskLimits.from_settings(risk_limits(ctx)), store=MemoryStore())
    bt = run_backtest(frames, "sma_cross", cash=100_000.0, commission=0.0005, risk=risk, warmup=WARMUP, baseline=False,
                      stop=StopPolicy.from_settings(risk_limits(ctx).stop))
    ours = _orders(loop)
    theirs = [(o.client_order_id, o.side.value, o.quantity, o.status.value, round(o.avg_fill_price or 0, 9)) for o in bt.orders]
    assert len(ours) > 10
    assert sum(o[0].endswith("-sl") for o in ours) >= 3, "the default risk.stop gives every position a protective stop"
    assert ours == theirs
    assert _fills(loop) == [(f.client_order_id, f.quantity, round(f.price, 9), round(f.fee, 9), f.ts) for f in bt.fills]
    assert loop.broker.portfolio.equity() == pytest.approx(bt.equity.iloc[-1], rel=1e-12)
    # every order was checked by the risk engine, and the checks were audited
    assert any(o.tags.get("risk_shrunk_from") for o in loop.manager.orders())
    assert len(ctx.store.audit_log(limit=10_000, kind="risk")) >= len(ours)


def test_restart_rebuilds_the_same_state_as_an_uninterrupted_run(tmp_path, sqlite_url):
    straight = trading_loop(_ctx(tmp_path / "a", f"sqlite:///{tmp_path}/a.db"))
    for _ in range(6):
        straight.tick()
    ctx = _ctx(tmp_path / "b", sqlite_url)
    for _ in range(3):  # a new process (new loop object) for each tick
        trading_loop(ctx).tick()
    loop = trading_loop(ctx)
    for _ in range(3):
        loop.tick()
    assert _orders(loop) == _orders(straight)
    assert _fills(loop) == _fills(straight)
    assert [a.message for a in ctx.store.audit_log(kind="recovery")][:1] == [f"paper state rebuilt up to {loop.feed.calendar[WARMUP - 1 + 3 * 40].isoformat()}"]


def test_crash_mid_bar_leaves_no_trace_and_is_redone(tmp_path, sqlite_url, monkeypatch):
    straight = trading_loop(_ctx(tmp_path / "a", f"sqlite:///{tmp_path}/a.db"))
    for _ in range(5):
        straight.tick()
    ctx = _ctx(tmp_path / "b", sqlite_url)
    loop = trading_loop(ctx)
    loop.tick()
    loop.tick()
    before = loop.last_processed
    calls = {"n": 0}
    real_flush = loop.recorder.flush

    def dying_flush(fills, now):
        calls["n"] += 1
        if calls["n"] == 17:  # in the middle of the third tick, after orders of that bar were written
            raise RuntimeError("power cut")
        return real_flush(fills, now)

    monkeypatch.setattr(loop.recorder, "flush", dying_flush)
    with pytest.raises(RuntimeError, match="power cut"):
        loop.tick()
    # the failed bar was rolled back: the stored marker is the bar before it
    assert loop.last_processed == loop.feed.calendar[loop.feed.calendar.get_loc(before) + 16]
    again = trading_loop(ctx)
    again.tick()  # the crashed tick had released bars up to 120 already: this one redoes 97..120 and goes to 160
    again.tick()
    assert again.last_processed == straight.last_processed
    assert _orders(again) == _orders(straight)
    assert _fills(again) == _fills(straight)
    from core.execution import repo

    stored = [o.client_order_id for o in repo.load_orders(ctx.store, "paper")]
    assert len(stored) == len(set(stored)) == len(_orders(straight))


def test_second_host_waits_for_the_lease(tmp_path, sqlite_url):
    ctx = _ctx(tmp_path, sqlite_url)
    a = trading_loop(ctx, holder="host-a")
    b = trading_loop(ctx, holder="host-b")
    assert a.tick().state == "running"
    assert b.tick().state == "waiting"
    assert toggle.loop_status(ctx.store)["waiting_for_lease"] == "host-a"
    toggle.set_enabled(ctx.store, False)
    assert a.tick().state == "stopped"  # stopping releases the lease
    toggle.set_enabled(ctx.store, True)
    assert b.tick().state == "running"
    assert a.tick().state == "waiting"


def test_kill_switch_flattens_the_book_through_the_loop(tmp_path, sqlite_url):
    from core import services

    ctx = _ctx(tmp_path, sqlite_url)
    loop = trading_loop(ctx)
    for _ in range(3):
        loop.tick()
    held = {s: p.quantity for s, p in loop.broker.portfolio.positions.items() if p.quantity}
    assert held, "the strategy should hold something by now"
    from core.risk.types import PortfolioState

    services.engage_kill_switch(PortfolioState.from_positions(loop.broker.portfolio.equity(), loop.broker.portfolio.cash, []), ctx=ctx)
    loop.tick()
    assert {s: p.quantity for s, p in loop.broker.portfolio.positions.items() if abs(p.quantity) > 1e-12} == {}
    kills = [o for o in loop.manager.orders() if o.client_order_id.startswith("kill-")]
    assert sorted(o.symbol for o in kills) == sorted(held)
    assert sorted(o.symbol for o in kills) == sorted(held)
    assert all(o.status.value == "filled" for o in kills)
    kill_ts = min(o.created_at for o in kills)
    later = [o for o in loop.manager.orders() if o.created_at > kill_ts and not o.client_order_id.startswith("kill-")]
    # after the switch: the strategy's new risk is vetoed; only position-reducing orders may pass
    assert later and all(o.status.value == "rejected" and "kill" in (o.reason or "") for o in later if o.tags.get("risk_shrunk_from") is None)
    # a restart replays the recorded kill-switch orders at the same bar
    again = trading_loop(ctx)
    again.tick()
    assert [o.client_order_id for o in again.manager.orders()][: len(loop.manager.orders())] == [o.client_order_id for o in loop.manager.orders()]


def test_ensemble_strategy_same_in_loop_and_backtest(tmp_path, sqlite_url):
    from core import services

    ctx = _ctx(tmp_path, sqlite_url, strategy="ensemble", warmup_bars=400, bars_per_tick=15,
               params={"allow_short": True, "min_probability": 0.5})
    ctx.extras["models_dir"] = str(tmp_path / "models")
    from core.services import set_context

    set_context(ctx)
    calendar = ctx.sample.bars(SYMBOLS[0]).index.union(ctx.sample.bars(SYMBOLS[1]).index)
    pre = {s: ctx.sample.bars(s).loc[: calendar[400 - 1 - 5]] for s in SYMBOLS}  # ends before the first traded bar and its 5-bar embargo
    model_id = services.train(SYMBOLS, horizon=5, preset="tiny", bars=pre, ctx=ctx)["model_id"]
    loop = trading_loop(ctx)
    for _ in range(3):
        loop.tick()
    assert loop.strategy.params["model_id"] == model_id  # pinned at session start
    last = loop.last_processed
    frames = {s: ctx.sample.bars(s).loc[:last] for s in SYMBOLS}
    risk = RiskEngine(RiskLimits.from_settings(risk_limits(ctx)), store=MemoryStore())
    bt = run_backtest(frames, services.build_strategy("ensemble", loop.strategy.params, ctx), cash=100_000.0, commission=0.0005, risk=risk,
                      warmup=400, baseline=False, stop=StopPolicy.from_settings(risk_limits(ctx).stop))
    ours = _orders(loop)
    assert ours, "with min_probability 0.5 and shorts allowed the strategy trades"
    assert ours == [(o.client_order_id, o.side.value, o.quantity, o.status.value, round(o.avg_fill_price or 0, 9)) for o in bt.orders]
    signals = services.latest_signals(limit=1000, ctx=ctx)
    assert len(signals) == 2 * 45 and set(signals["model"]) == {model_id}
    # a p_up stored for a bar equals a prediction made from the bars up to that bar only
    row = signals.iloc[-1]
    hist = ctx.sample.bars(row["symbol"]).loc[: row["ts"]].tail(300)
    assert services.predict(row["symbol"], bars=hist, model_id=model_id, ctx=ctx)["p_up"] == pytest.approx(row["p_up"], rel=1e-9)


def test_manual_ticket_and_cancel_go_through_the_loop(tmp_path, sqlite_url):
    from core import services
    from core.services import set_context

    ctx = _ctx(tmp_path, sqlite_url)
    set_context(ctx)
    loop = trading_loop(ctx)
    loop.tick()
    price = loop.broker.portfolio.last_price("AAPL") or ctx.sample.bars("AAPL").loc[: loop.last_processed]["close"].iloc[-1]
    # a resting limit far below the market, then a market buy; both sized well inside the 5 % limit
    low = services.queue_manual_order({"symbol": "AAPL", "side": "buy", "quantity": 10, "order_type": "limit", "limit_price": round(price * 0.1, 2)})
    mkt = services.queue_manual_order({"symbol": "MSFT", "side": "buy", "quantity": 5, "order_type": "market"})
    assert low["queued"] and mkt["queued"]
    loop.tick()
    assert services.pending_manual_orders() == []
    assert loop.manager.get(low["client_order_id"]).status.value == "accepted"
    market_order = loop.manager.get(mkt["client_order_id"])
    assert market_order.status.value == "filled" and market_order.filled_quantity == 5
    services.request_cancel(low["client_order_id"])
    loop.tick()
    assert loop.manager.get(low["client_order_id"]).status.value == "canceled"
    # after a restart the rebuilt state replays the ticket and the cancel at their bars
    again = trading_loop(ctx)
    again.tick()
    assert again.manager.get(low["client_order_id"]).status.value == "canceled"
    assert again.manager.get(mkt["client_order_id"]).filled_quantity == 5
    done = [o for o in _orders(loop) if o[3] in ("filled", "canceled", "rejected")]
    assert [o for o in _orders(again) if o[0] in {d[0] for d in done}] == done


def test_retrain_uses_bars_up_to_the_loop_only(tmp_path, sqlite_url, monkeypatch):
    from core import services
    from core.services import set_context

    ctx = _ctx(tmp_path, sqlite_url)
    set_context(ctx)
    assert services.retrain_for_loop(ctx) is None  # no ensemble session: nothing to retrain
    session = {"symbols": SYMBOLS, "timeframe": "1d", "strategy": "ensemble", "params": {}, "cash": 1e5, "commission": 0.0,
               "warmup_bars": 100, "bars_per_tick": 1}
    ctx.store.set_setting("loop.paper.session", session)
    ctx.store.set_setting("loop.paper.last_bar", "2003-06-30T00:00:00+00:00")
    seen = {}

    def fake_train(symbols, horizon, **kw):
        seen.update(symbols=symbols, ends={s: b.index[-1] for s, b in kw["bars"].items()})
        return {"model_id": "m1"}

    monkeypatch.setattr("core.services.models.train", fake_train)
    assert services.retrain_for_loop(ctx) == {"model_id": "m1"}
    assert seen["symbols"] == SYMBOLS
    assert all(str(end.date()) <= "2003-06-30" for end in seen["ends"].values())


def test_session_trains_its_own_model_before_the_session_when_a_symbol_has_no_history(tmp_path, sqlite_url):
    """The default session (GOOG listed in 2004) on a fresh store: no crash, no training on traded bars."""
    from core import services
    from core.models.registry import get_run
    from core.services import set_context

    ctx = _ctx(tmp_path, sqlite_url, strategy="ensemble", symbols=["AAPL", "GOOG"], warmup_bars=400, bars_per_tick=5)
    ctx.extras["models_dir"] = str(tmp_path / "models")
    set_context(ctx)
    calendar = ctx.sample.bars("AAPL").index  # GOOG starts in 2004, long after the session's first bar
    late = services.train(["AAPL"], horizon=5, preset="tiny", bars={"AAPL": ctx.sample.bars("AAPL").iloc[:500]}, ctx=ctx)["model_id"]
    loop = trading_loop(ctx)
    report = loop.tick()
    assert report.state == "running" and len(report.bars) == 5
    pinned = get_run(ctx.store, loop.strategy.params["model_id"])
    assert pinned.id != late  # the newest model covers traded bars: never used
    assert pinned.data_end.date() <= calendar[400 - 1 - 5].date()  # ends before the first traded bar minus the embargo
    # a restart replays the processed bars; their signals are stored once, not again
    trading_loop(ctx).tick()
    signals = services.latest_signals(limit=1000, ctx=ctx)
    assert len(signals) == 10 and not signals.duplicated(["symbol", "ts"]).any()
    # the Dashboard's and the audit's model windows: counted here from the calendar, independently of model_windows
    (window,) = services.model_windows(ctx)
    first_traded = calendar[400]  # warm-up bars 0..399; AAPL's calendar is the union's (GOOG's dates are a subset)
    assert window["model_id"] == pinned.id and window["trades_from"] == first_traded and window["overlap"] is False
    assert window["trained_to"].date() == pinned.data_end.date()
    end = pd.Timestamp(pinned.data_end)
    end = end.tz_localize("UTC") if end.tzinfo is None else end
    assert window["gap_bars"] == ((calendar > end) & (calendar < first_traded)).sum() >= 5
    # a session forged to trade the late model (trained on the first 500 bars) is flagged, and the leakage audit fails on it
    session = ctx.store.get_setting("loop.paper.session")
    ctx.store.set_setting("loop.paper.session", {**session, "params": {**session["params"], "model_id": late}})
    (forged,) = services.model_windows(ctx)
    assert forged["overlap"] is True and forged["gap_bars"] < 0
    audit = services.audit("AAPL", model_id=late, n_points=1, ctx=ctx)
    assert audit["features_ok"] is True and audit["ok"] is False and audit["overlapping_models"] == [late]
    ctx.store.set_setting("loop.paper.session", session)
    # an explicitly pinned model that overlaps the traded bars is refused with the dates
    other = _ctx(tmp_path / "b", f"sqlite:///{tmp_path}/b.db", strategy="ensemble", symbols=["AAPL"], warmup_bars=400)
    other.extras["models_dir"] = str(tmp_path / "models")
    mid = services.train(["AAPL"], horizon=5, preset="tiny", bars={"AAPL": ctx.sample.bars("AAPL").iloc[:500]}, ctx=other)["model_id"]
    pinned_cfg = other.settings.trading.model_copy(update={"params": {"model_id": mid}})
    with pytest.raises(ValueError, match="overlaps the session's traded bars"):
        trading_loop(other, settings=pinned_cfg).session()


def test_host_that_wins_its_lease_back_rebuilds_before_trading(tmp_path, sqlite_url):
    """A paused past its lease, B takes over and trades, B dies, A resumes: same as one uninterrupted host."""
    straight = trading_loop(_ctx(tmp_path / "a", f"sqlite:///{tmp_path}/a.db"))
    for _ in range(6):
        straight.tick()
    ctx = _ctx(tmp_path / "b", sqlite_url)
    host_a, host_b = trading_loop(ctx, holder="host-a"), trading_loop(ctx, holder="host-b")
    host_a.tick(), host_a.tick()
    host_a.lease.release()  # A is paused past lease_seconds: its lease lapses
    host_b.tick(), host_b.tick()
    host_b.lease.release()  # B dies; its lease lapses
    host_a.tick(), host_a.tick()
    assert _orders(host_a) == _orders(straight)
    assert _fills(host_a) == _fills(straight)
    assert host_a.broker.portfolio.equity() == pytest.approx(straight.broker.portfolio.equity(), rel=1e-12)
    assert any("lease regained" in a.message for a in ctx.store.audit_log(kind="recovery"))
