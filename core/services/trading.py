"""Trading-loop services: the paper toggle (shared by UI, CLI and hosts) and loop status."""

from __future__ import annotations

from typing import Any

from core.services.context import Context, get_context
from core.trading import toggle


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
