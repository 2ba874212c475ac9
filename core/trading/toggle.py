"""The paper-trading toggle, persisted in the settings table (UI, CLI and hosts share it)."""

from __future__ import annotations

from typing import Any

from core.store import Store

KEY = "paper.enabled"
STATUS_KEY = "loop.status"


def is_enabled(store: Store) -> bool:
    """Return True when the user switched paper trading on."""
    return bool(store.get_setting(KEY, False))


def set_enabled(store: Store, enabled: bool, actor: str = "user") -> None:
    """Switch paper trading on or off and record who did it."""
    store.set_setting(KEY, bool(enabled))
    store.audit("toggle", f"paper trading {'started' if enabled else 'stopped'}", {"enabled": bool(enabled)}, actor=actor)


def loop_status(store: Store) -> dict[str, Any]:
    """Return what the loop last reported (last tick time, host, error, timings)."""
    return dict(store.get_setting(STATUS_KEY, {}) or {})


def report_status(store: Store, **status: Any) -> None:
    """Merge ``status`` into the loop's stored status."""
    current = loop_status(store)
    current.update(status)
    store.set_setting(STATUS_KEY, current)
