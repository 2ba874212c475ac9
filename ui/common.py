"""Shared page furniture: cached facade access, error display, the sidebar."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from core import services
from core.config import ConfigError

T = TypeVar("T")


def context() -> services.Context:
    """Return the process-wide core context (a process singleton in core, created once)."""
    return services.get_context()


def guarded(fn: Callable[..., T], *args: Any, what: str = "this", **kwargs: Any) -> T | None:
    """Call a core function and show an ``st.error`` with what to do instead of a traceback."""
    try:
        return fn(*args, **kwargs)
    except ConfigError as exc:
        st.error(f"Configuration problem: {exc}")
    except (ValueError, RuntimeError, OSError) as exc:
        st.error(f"Could not do {what}: {exc}")
    return None


def sidebar() -> None:
    """Render the sidebar shown on every page: mode indicator."""
    ctx = context()
    mode = ctx.settings.mode.value.upper()
    with st.sidebar:
        st.markdown(f"**Mode:** :{'red' if mode == 'LIVE' else 'green'}-background[{mode}]")
