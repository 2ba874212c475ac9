"""Trading-loop services: the paper toggle (shared by UI, CLI and hosts) and loop status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from core.config import TradingSettings
from core.domain import Fill
from core.services.context import Context, get_context
from core.trading import toggle
from core.trading.feeds import build_feed, feed_provider
from core.trading.loop import LoopPorts, TickReport, TradingLoop


def paper_start(actor: str = "user", ctx: Context | None = None) -> dict[str, Any]:
    """Switch paper trading on (persisted: a restarted host resumes) and return the status."""
    ctx = ctx or get_context()
    toggle.set_enabled(ctx.store, True, actor=actor)
    return paper_status(ctx)


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

    The running session keeps the model it pinned at its start (so its decisions stay
    reproducible after a restart); the new version is what the next session trades and
    what the Models page shows. Returns the training report, or None when there is
    nothing to retrain (no ensemble session yet).
    """
    from core.services.data import load_bars
    from core.services.models import train

    ctx = ctx or get_context()
    account = ctx.settings.trading.account
    session = ctx.store.get_setting(f"loop.{account}.session")
    last = ctx.store.get_setting(f"loop.{account}.last_bar")
    if not session or session.get("strategy") != "ensemble" or not last:
        return None
    bars = {s: load_bars(s, timeframe=session["timeframe"], ctx=ctx).loc[:last] for s in session["symbols"]}
    report = train(list(bars), horizon=5, preset="fast", bars=bars, n_jobs=2, ctx=ctx)
    ctx.store.audit("models", f"retrained {report['model_id']} on bars up to {last}", {"model_id": report["model_id"]})
    return report


def trading_loop(ctx: Context | None = None, settings: TradingSettings | None = None, holder: str | None = None,
                 load: Callable[[str], pd.DataFrame] | None = None) -> TradingLoop:
    """Return a paper-trading loop wired to this application: bars, limits, strategies, notifications.

    ``load(symbol)`` replaces the bar source (default: the context's data for the session's timeframe).
    """
    from core.services.data import load_bars
    from core.services.settings import risk_limits
    from core.services.strategy import build_strategy, pin_params

    ctx = ctx or get_context()
    cfg = settings or ctx.settings.trading

    def notify_fills(fills: list[Fill]) -> None:
        from core.notify.events import fill_event
        from core.services.notifications import get_notifier

        notifier = get_notifier(ctx)
        for fill in fills:
            notifier.submit(fill_event(fill))

    bar_source = load or (lambda s: load_bars(s, timeframe=cfg.timeframe, ctx=ctx))
    def notify_halt(active: bool, reason: str) -> None:
        from core.notify.events import data_halt_event
        from core.services.notifications import get_notifier

        get_notifier(ctx).submit(data_halt_event(active, reason, ctx.clock.now()))

    ports = LoopPorts(
        load_bars=bar_source,
        risk_limits=lambda: risk_limits(ctx),
        build_strategy=lambda name, params: build_strategy(name, params, ctx),
        pin_params=lambda name, params, frames, cutoff: pin_params(name, params, frames, cutoff, ctx),
        notify_fills=notify_fills,
        build_feed=lambda session, account: build_feed(ctx, session, account, bar_source),
        provider=lambda: feed_provider(ctx),
        notify_halt=notify_halt,
    )
    return TradingLoop(ctx, ports, settings=settings, holder=holder)


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
    toggle.report_status(ctx.store, last_error=f"{name}: {type(exc).__name__}: {exc}", last_error_at=ctx.clock.now().isoformat())
