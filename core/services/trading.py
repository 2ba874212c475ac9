"""Trading-loop services: the paper toggle (shared by UI, CLI and hosts) and loop status."""

from __future__ import annotations

from typing import Any

from core.services.context import Context, get_context
from core.services.strategies import require_checked
from core.trading import toggle


def paper_start(actor: str = "user", ctx: Context | None = None) -> dict[str, Any]:
    """Switch paper trading on (persisted: a restarted host resumes) and return the status.

    Raises ``ValueError`` (and leaves the toggle off) when the session's strategy cannot be
    loaded or fails the look-ahead check on one of its symbols.
    """
    ctx = ctx or get_context()
    strategy, params, symbols = trading_strategy(ctx)
    try:
        require_checked(strategy, params, symbols, ctx=ctx)
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
