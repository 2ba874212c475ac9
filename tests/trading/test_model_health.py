"""Model health of a paper session's pinned model: the report, the alarm's audit and entry stop, retrain status and replacement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.config import load_settings
from core.domain import RiskAction, Side
from core.risk.types import MarketState, OrderIntent, PortfolioState
from core.services import Context, set_context, trading_loop
from core.trading import toggle

SYMBOLS = ["AAPL", "MSFT"]
WARMUP = 400


def _ctx(tmp_path, db_url, **models):
    settings = load_settings(
        env_file=str(tmp_path / "none.env"), store={"database_url": db_url}, log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False},
        trading={"strategy": "ensemble", "symbols": SYMBOLS, "warmup_bars": WARMUP, "bars_per_tick": 60, "params": {"min_probability": 0.5}},
        data={"models_dir": str(tmp_path / "models")}, models=models,
    )  # fmt: skip
    ctx = Context.create(settings)
    set_context(ctx)
    toggle.set_enabled(ctx.store, True)
    return ctx


class _Recorder:
    name = "discord"

    def __init__(self):
        self.sent = []

    def send(self, text, subject=""):
        self.sent.append(text)


@pytest.fixture
def session(tmp_path, sqlite_url):
    from core import services

    ctx = _ctx(tmp_path, sqlite_url, replace_rule="better_logloss", drift={"block_entries": True, "window": 60})
    calendar = ctx.sample.bars(SYMBOLS[0]).index.union(ctx.sample.bars(SYMBOLS[1]).index)
    pre = {s: ctx.sample.bars(s).loc[: calendar[WARMUP - 1 - 5]] for s in SYMBOLS}  # ends before the session's 5-bar embargo
    model_id = services.train(SYMBOLS, horizon=5, preset="tiny", bars=pre, regime=False, importance_rows=0, ctx=ctx)["model_id"]
    loop = trading_loop(ctx)
    for _ in range(2):
        loop.tick()
    yield ctx, loop, model_id
    set_context(None)


def test_health_report_uses_the_session_signals_and_realised_outcomes(session):
    from core import services

    ctx, loop, model_id = session
    rep = services.model_health(ctx=ctx)
    assert rep["model_id"] == model_id and rep["session"]
    last = loop.last_processed
    assert pd.Timestamp(rep["last_bar"]) == last
    # 60 live bars per symbol; outcomes only where 5 later bars exist by the last processed bar.
    assert rep["n_outcomes"] == 2 * (60 - 5)
    signals = services.latest_signals(limit=1000, ctx=ctx)
    live = signals[pd.to_datetime(signals["ts"], utc=True) > last - pd.Timedelta(days=120)]
    assert len(live) >= rep["n_outcomes"]
    # The hit rate recomputed independently from the stored signals and the bars.
    hits = []
    for sym in SYMBOLS:
        close = ctx.sample.bars(sym)["close"].loc[:last]
        rows = signals[(signals["symbol"] == sym)].copy()
        rows["ts"] = pd.to_datetime(rows["ts"], utc=True)
        series = rows.set_index("ts")["p_up"].sort_index()
        for ts, p in series[(series.index >= close.index[-60]) & (series.index <= close.index[-6])].items():
            i = close.index.get_loc(ts)
            hits.append((p >= 0.5) == (close.iloc[i + 5] > close.iloc[i]))
    assert rep["hit_rate"] == pytest.approx(np.mean(hits), abs=1e-12)


def test_alarm_is_audited_stops_entries_and_a_replacement_lifts_it(session, monkeypatch):
    from core import services
    from core.config import NotifySettings
    from core.notify.notifier import Notifier

    ctx, loop, model_id = session
    channel = _Recorder()
    ctx.extras["notifier"] = Notifier(NotifySettings(discord_enabled=True, events=["model_drift"]), ctx.clock, channels={"discord": channel})
    # Bounds no live window can meet: every feature counts as drifted.
    ctx.settings.models.drift.psi_max = 1e-9
    ctx.settings.models.drift.psi_share = 0.01
    rep = services.check_model_health(ctx=ctx)
    assert rep["alarm"] and rep["feature_alarm"]
    ctx.extras["notifier"].close()  # the alarm is sent from the notifier's thread: wait for it
    assert len(channel.sent) == 1 and f"model {model_id} left its health bounds" in channel.sent[0] and "feature drift" in channel.sent[0]
    kinds = [r.kind for r in ctx.store.audit_log(kind="model_drift")]
    assert len(kinds) == 2  # the alarm, and the entry stop
    status = services.health_status(ctx)
    assert status["halt"]["active"] and status["halt"]["model_id"] == model_id
    engine = services.risk_engine(ctx)
    rets = pd.DataFrame({"AAPL": np.random.default_rng(0).normal(0, 0.01, 100)})
    pf = PortfolioState(100_000.0, 90_000.0, 100_000.0, 100_000.0, {"AAPL": (10.0, 100.0)})
    entry = engine.check(OrderIntent("AAPL", Side.BUY, 5, 100.0), pf, MarketState(rets, {"AAPL": 100.0}))
    assert entry.action is RiskAction.VETO and "model health alarm" in entry.reason
    exit_ = engine.check(OrderIntent("AAPL", Side.SELL, 10, 100.0), pf, MarketState(rets, {"AAPL": 100.0}))
    assert exit_.action is RiskAction.APPROVE  # closing stays possible
    # A second check with the alarm still on neither re-audits nor re-notifies.
    services.check_model_health(ctx=ctx)
    assert len(ctx.store.audit_log(kind="model_drift")) == 2
    ctx.extras["notifier"].close()
    assert len(channel.sent) == 1

    # The retrain job: a model with a lower out-of-sample log loss replaces the pinned one from the next bar.
    last = loop.last_processed
    pre = {s: ctx.sample.bars(s).loc[:last] for s in SYMBOLS}
    new = services.train(SYMBOLS, horizon=5, preset="tiny", bars=pre, regime=False, importance_rows=0, ctx=ctx)
    better = {**new, "overall": {**new["overall"], "log_loss": {"value": -1.0}}}
    monkeypatch.setattr("core.services.models.train", lambda *a, **k: better)
    services.retrain_for_loop(ctx)
    st = services.retrain_status(ctx)
    assert st["result"] == "ok" and st["replaced"] and st["model_id"] == new["model_id"] and st["pinned"] == model_id
    assert st["next_run"].endswith("02:00:00+00:00") and st["replace_rule"] == "better_logloss"
    assert not services.health_status(ctx)["halt"]["active"]  # retrained: the stop is lifted
    assert "model replaced" in ctx.store.audit_log(kind="model_drift")[0].message
    # A rebuilt loop replays the traded bars with the old model (no recovery mismatch), then trades the new one.
    again = trading_loop(ctx)
    again.tick()
    effective = pd.Timestamp(st["effective_after"])
    assert effective == ctx.sample.bars("AAPL").loc[last:].index[5]  # an embargo of 5 bars after the training data
    signals = services.latest_signals(limit=2000, ctx=ctx)
    ts = pd.to_datetime(signals["ts"], utc=True)
    assert set(signals.loc[ts <= effective, "model"]) == {model_id}
    assert set(signals.loc[ts > effective, "model"]) == {new["model_id"]}
    rep = services.check_model_health(ctx=ctx)  # the new model is checked on its own live bars
    assert rep["model_id"] == new["model_id"] and rep["n_live"] == 2 * 60


def test_retrain_with_rule_never_keeps_the_pinned_model(tmp_path, sqlite_url, monkeypatch):
    from core import services

    ctx = _ctx(tmp_path, sqlite_url)
    ctx.store.set_setting("loop.paper.session", {"symbols": SYMBOLS, "timeframe": "1d", "strategy": "ensemble", "params": {"model_id": "old"}})
    ctx.store.set_setting("loop.paper.last_bar", "2003-06-30T00:00:00+00:00")
    monkeypatch.setattr("core.services.models.train", lambda *a, **k: {"model_id": "m2", "overall": {"log_loss": {"value": 0.1}}})
    services.retrain_for_loop(ctx)
    st = services.retrain_status(ctx)
    assert st["result"] == "ok" and not st["replaced"] and "never" in st["reason"]
    assert ctx.store.get_setting("loop.paper.session")["params"] == {"model_id": "old"}
    monkeypatch.setattr("core.services.models.train", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError):
        services.retrain_for_loop(ctx)
    assert services.retrain_status(ctx)["result"] == "error" and "disk full" in services.retrain_status(ctx)["reason"]
