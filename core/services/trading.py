"""Trading-loop services: the paper toggle (shared by UI, CLI and hosts) and loop status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from core.config import TradingSettings
from core.notify.events import NotifyEvent
from core.services.context import Context, get_context
from core.services.strategies import require_checked
from core.trading import toggle
from core.trading.feeds import build_feed, feed_provider
from core.trading.loop import LoopPorts, TickReport, TradingLoop


def paper_start(actor: str = "user", ctx: Context | None = None) -> dict[str, Any]:
    """Switch paper trading on (persisted: a restarted host resumes) and return the status.

    Raises ``ValueError`` (and leaves the toggle off) when the session's strategy cannot be
    loaded or fails the look-ahead check on one of its symbols.
    """
    ctx = ctx or get_context()
    strategy, params, symbols = trading_strategy(ctx)
    session = ctx.store.get_setting(f"loop.{ctx.settings.trading.account}.session") or {}
    try:
        require_checked(strategy, params, symbols, ctx=ctx, timeframe=session.get("timeframe") or ctx.settings.trading.timeframe)
    except ValueError as exc:
        ctx.store.audit("toggle", f"paper trading refused: {exc}", {"strategy": strategy}, actor=actor)
        raise
    toggle.set_enabled(ctx.store, True, actor=actor)
    return paper_status(ctx)


def trading_strategy(ctx: Context | None = None) -> tuple[str, dict[str, Any], list[str]]:
    """Return what the loop trades: the running session's strategy, parameters and symbols, else the configured ones."""
    ctx = ctx or get_context()
    session = ctx.store.get_setting(f"loop.{ctx.settings.trading.account}.session")
    cfg = ctx.settings.trading
    if session:
        return session["strategy"], dict(session["params"]), list(session["symbols"])
    return cfg.strategy, dict(cfg.params), [s.upper() for s in cfg.symbols]


def paper_stop(actor: str = "user", ctx: Context | None = None) -> dict[str, Any]:
    """Switch paper trading off and return the status."""
    ctx = ctx or get_context()
    toggle.set_enabled(ctx.store, False, actor=actor)
    return paper_status(ctx)


def paper_status(ctx: Context | None = None) -> dict[str, Any]:
    """Return the toggle, the mode and what the loop last reported."""
    ctx = ctx or get_context()
    return {"enabled": toggle.is_enabled(ctx.store), "mode": ctx.settings.mode.value, **toggle.loop_status(ctx.store)}


def retrain_for_loop(ctx: Context | None = None) -> dict[str, Any] | None:
    """Retrain the ensemble on the paper session's symbols with bars up to its last processed bar, never later.

    The running session keeps the model it pinned (so its decisions stay reproducible after a
    restart) unless ``models.replace_rule`` says otherwise: with ``better_logloss`` a new model
    whose out-of-sample log loss is lower than the pinned one's takes over from the next bar
    (an entry in the session's ``model_schedule``; bars already traded keep their model, and
    the new one never trades a bar it was trained on). The outcome is stored for the Models
    page (:func:`core.services.health.retrain_status`). Returns the training report, or None
    when there is nothing to retrain (no ensemble session yet).
    """
    import pandas as pd

    from core.models.registry import ModelNotFound
    from core.risk.state import DRIFT_HALT_KEY
    from core.services.data import load_bars
    from core.services.health import RETRAIN_KEY
    from core.services.models import load_model, train
    from core.services.windows import TRAIN_HORIZON

    ctx = ctx or get_context()
    account = ctx.settings.trading.account
    key = f"loop.{account}.session"
    session = ctx.store.get_setting(key)
    last = ctx.store.get_setting(f"loop.{account}.last_bar")
    status: dict[str, Any] = {"last_run": ctx.clock.now().isoformat(), "rule": ctx.settings.models.replace_rule, "replaced": False, "model_id": None}
    if not session or session.get("strategy") != "ensemble" or not last:
        ctx.store.set_setting(RETRAIN_KEY, {**status, "result": "skipped", "reason": "no ensemble paper session has traded yet"})
        return None
    try:
        bars = {s: load_bars(s, timeframe=session["timeframe"], ctx=ctx).loc[:last] for s in session["symbols"]}
        report = train(list(bars), horizon=5, preset="fast", bars=bars, n_jobs=2, actor="system", ctx=ctx)
        ctx.store.audit("models", f"retrained {report['model_id']} on bars up to {last}", {"model_id": report["model_id"]})
        schedule = session["params"].get("model_schedule") or []
        pinned = schedule[-1][1] if schedule else session["params"].get("model_id")
        new_ll = ((report.get("overall") or {}).get("log_loss") or {}).get("value")
        try:
            old_ll = ((load_model(pinned, ctx).report.get("overall") or {}).get("log_loss") or {}).get("value") if pinned else None
        except ModelNotFound:
            old_ll = None
        status.update(result="ok", model_id=report["model_id"], pinned=pinned, new_log_loss=new_ll, pinned_log_loss=old_ll, trained_to=last)
        calendar = sorted({t for s in session["symbols"] for t in load_bars(s, timeframe=session["timeframe"], ctx=ctx).index if t > pd.Timestamp(last)})
        if len(calendar) < TRAIN_HORIZON:
            status["rule_note"] = "too few bars left after the training data for the embargo"
        elif status["rule"] == "better_logloss" and new_ll is not None and old_ll is not None and new_ll < old_ll:
            # Like a pinned model, a replacement trades only after an embargo of its label horizon past its training data.
            effective = calendar[TRAIN_HORIZON - 1].isoformat()
            params = dict(session["params"])
            params["model_schedule"] = [*params.get("model_schedule", []), [effective, report["model_id"]]]
            ctx.store.set_setting(key, {**session, "params": params})
            ctx.extras.pop("trading_loop", None)  # the next tick rebuilds the loop with the new schedule
            status.update(replaced=True, effective_after=effective,
                          reason=f"out-of-sample log loss {new_ll:.4f} < {old_ll:.4f} of {pinned}: trades the bars after {effective[:10]}")
            ctx.store.audit("models", f"{report['model_id']} replaced {pinned} for bars after {effective} (rule better_logloss)", status)
            halt = ctx.store.get_setting(DRIFT_HALT_KEY) or {}
            if halt.get("active"):  # the drift stop holds "until retrained": the replacement lifts it
                ctx.store.set_setting(DRIFT_HALT_KEY, {"active": False, "model_id": halt.get("model_id"), "lifted": status["last_run"]})
                ctx.store.audit("model_drift", f"drift halt lifted (model replaced by {report['model_id']})")
        else:
            status["reason"] = ("rule 'never': the session keeps its pinned model" if status["rule"] == "never" else
                                f"log loss {new_ll} is not below the pinned model's {old_ll}: kept {pinned}")  # fmt: skip
    except Exception as exc:
        ctx.store.set_setting(RETRAIN_KEY, {**status, "result": "error", "reason": f"{type(exc).__name__}: {exc}"})
        raise
    ctx.store.set_setting(RETRAIN_KEY, status)
    return report


def trading_loop(ctx: Context | None = None, settings: TradingSettings | None = None, holder: str | None = None,
                 load: Callable[[str], pd.DataFrame] | None = None) -> TradingLoop:
    """Return a paper-trading loop wired to this application: bars, limits, strategies, notifications.

    ``load(symbol)`` replaces the bar source (default: the context's data for the session's timeframe).
    """
    from core.services.data import load_bars
    from core.services.settings import risk_limits, with_saved_costs
    from core.services.strategy import pin_params
    from core.services.venues import venue_broker

    ctx = ctx or get_context()
    cfg = with_saved_costs(settings or ctx.settings.trading, ctx)  # the fill costs saved on the Settings page start a new session

    def notify(events: list[NotifyEvent]) -> None:
        from core.services.notifications import notify_event

        for event in events:
            notify_event(event, ctx=ctx, background=True)

    bar_source = load or (lambda s: load_bars(s, timeframe=cfg.timeframe, ctx=ctx))
    ports = LoopPorts(
        load_bars=bar_source,
        risk_limits=lambda: risk_limits(ctx),
        build_strategy=lambda name, params: checked_strategy(name, params, cfg, ctx),
        pin_params=lambda name, params, frames, cutoff: pin_params(name, params, frames, cutoff, ctx),
        notify=notify,
        build_feed=lambda session, account: build_feed(ctx, session, account, bar_source),
        provider=lambda: feed_provider(ctx),
        venue=lambda: ctx.settings.brokers.default,
        build_venue=lambda session: venue_broker(ctx, session["broker"], session["symbols"]),
    )
    return TradingLoop(ctx, ports, settings=cfg, holder=holder)


def checked_strategy(name: str, params: dict[str, Any], cfg: TradingSettings, ctx: Context) -> Any:
    """Return the loop's strategy, refusing one that fails to load or fails the look-ahead check on the session's symbols.

    The toggle refuses such a strategy at the start; this also covers a session that resumes
    (a restarted host, a rebuilt loop) after its file was changed. The tick then fails with
    the reason, which the status strip shows, and trades nothing until the file is fixed.
    """
    from core.services.strategy import build_strategy

    session = ctx.store.get_setting(f"loop.{cfg.account}.session") or {}
    require_checked(name, params, session.get("symbols") or [s.upper() for s in cfg.symbols], ctx=ctx, timeframe=session.get("timeframe") or cfg.timeframe)
    return build_strategy(name, params, ctx)


def get_loop(ctx: Context) -> TradingLoop:
    """Return the context's trading loop (one per process and account)."""
    loop = ctx.extras.get("trading_loop")
    if loop is None:
        loop = ctx.extras["trading_loop"] = trading_loop(ctx)
    return loop


def run_tick(ctx: Context | None = None) -> TickReport:
    """Job entry point: one tick of the context's loop.

    A tick that fails is dropped from memory, so the next one rebuilds from the store
    (whatever the failed bar half-did was rolled back with its transaction).
    """
    ctx = ctx or get_context()
    try:
        return get_loop(ctx).tick()
    except Exception:
        ctx.extras.pop("trading_loop", None)
        raise


def snapshot_equity(ctx: Context | None = None) -> None:
    """Record the loop's current equity in its status (the per-bar curve is stored by the ticks)."""
    ctx = ctx or get_context()
    loop = ctx.extras.get("trading_loop")
    if loop is not None and loop.ready:
        toggle.report_status(ctx.store, equity=loop.broker.portfolio.equity(), equity_at=ctx.clock.now().isoformat())


def retrain_models(ctx: Context | None = None) -> None:
    """Retrain the ensemble on data up to the loop's current bar (never later), if the strategy uses one."""
    retrain_for_loop(ctx)


def report_job_error(name: str, exc: BaseException, ctx: Context | None = None) -> None:
    """Record in the loop status that job ``name`` failed with ``exc`` (the dashboard shows it)."""
    ctx = ctx or get_context()
    toggle.report_status(ctx.store, last_error=f"{name}: {type(exc).__name__}: {exc}{user_frame(exc)}", last_error_at=ctx.clock.now().isoformat())


def user_frame(exc: BaseException) -> str:
    """Return `` (at FILE:LINE)`` for the innermost frame of ``exc`` in the user's strategies folder, else ``""``.

    A user's event-driven strategy that raises in the loop is then named by file and line, as its import errors are.
    """
    import traceback

    from core.strategies.user import strategies_dir

    folders = tuple({str(strategies_dir()), str(strategies_dir().resolve())})
    mine = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(folders)]
    return f" (at {mine[-1].filename}:{mine[-1].lineno})" if mine else ""


def use_model_for_paper(model_id: str, actor: str = "user", ctx: Context | None = None) -> dict[str, Any]:
    """Pin model ``model_id`` for the paper session, under the no-overlap rule between training and traded bars.

    Without a session yet, one is started (stored, not switched on) with the ``ensemble``
    strategy trading ``model_id``. In a session that has not processed a bar, the model
    replaces the pinned one; in one that has, it takes over from the next bar (an entry in
    the session's ``model_schedule``: bars already traded keep their model). Either way the
    model's training data must end an embargo of ``TRAIN_HORIZON`` bars before the
    session's first traded bar (:func:`core.services.strategy.pin_params`).

    Returns ``{"model_id", "session_started", "effective_after"}`` (``effective_after`` is
    the last processed bar, ISO, or None when the model trades from the session's start).

    Raises
    ------
    ValueError
        When the model is unknown, its training data overlaps the session's traded bars, or
        the session trades a strategy without a model.
    """
    from core.services.strategy import pin_params

    ctx = ctx or get_context()
    account = ctx.settings.trading.account
    key = f"loop.{account}.session"
    session = ctx.store.get_setting(key)
    details: dict[str, Any] = {"model_id": model_id, "session_started": False, "effective_after": None}
    try:
        if not session:
            cfg = ctx.settings.trading
            params = dict(cfg.params) if cfg.strategy == "ensemble" else {}
            settings = cfg.model_copy(update={"strategy": "ensemble", "params": {**params, "model_id": model_id, "model_schedule": []}})
            trading_loop(ctx, settings=settings).session()  # pin_params refuses an overlapping model before anything is stored
            details["session_started"] = True
        else:
            if session.get("strategy") != "ensemble":
                raise ValueError(f"the paper session trades the strategy {session.get('strategy')!r}, which uses no model: "
                                 "a model can be pinned only for an ensemble session")  # fmt: skip
            loop = trading_loop(ctx)
            feed = loop.ports.build_feed(session, account)
            params = {**session["params"], "model_id": model_id, "model_schedule": []}
            pin_params("ensemble", params, feed.frames, feed.start, ctx)  # the rule; raises with the dates
            last = ctx.store.get_setting(f"loop.{account}.last_bar")
            if last is None:
                new_params = params
            else:
                new_params = dict(session["params"])
                new_params["model_schedule"] = [*new_params.get("model_schedule", []), [last, model_id]]
                details["effective_after"] = last
            ctx.store.set_setting(key, {**session, "params": new_params})
            ctx.extras.pop("trading_loop", None)  # the next tick rebuilds the loop with the new model
    except ValueError as exc:
        ctx.store.audit("models", f"model {model_id} refused for paper trading: {exc}", {"model_id": model_id}, actor=actor)
        raise
    after = details["effective_after"]
    ctx.store.audit("models", f"model {model_id} pinned for paper trading" + (f" from the bar after {str(after)[:10]}" if after else ""), details,
                    actor=actor)  # fmt: skip
    return details
