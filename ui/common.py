"""Shared page furniture: facade access, error display, the sidebar (toggle, mode, status)."""

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


@st.cache_resource(show_spinner=False)
def scheduler_host():
    """Start the embedded scheduler once per server process (never per rerun)."""
    from jobs.host import embedded_host

    return embedded_host(context())


def guarded(fn: Callable[..., T], *args: Any, what: str = "this", **kwargs: Any) -> T | None:
    """Call a core function and show an ``st.error`` with what to do instead of a traceback."""
    try:
        return fn(*args, **kwargs)
    except ConfigError as exc:
        st.error(f"Configuration problem: {exc}")
    except (ValueError, RuntimeError, OSError, KeyError) as exc:
        st.error(f"Could not do {what}: {exc}")
    return None


def _on_toggle() -> None:
    if st.session_state["sidebar_paper_toggle"]:
        services.paper_start(actor="ui")
    else:
        services.paper_stop(actor="ui")


def sidebar() -> None:
    """Render the shell shown on every page: mode, paper toggle and loop status (sidebar), alerts (top of the page)."""
    from ui.status import alerts_banner, status_strip

    ctx = context()
    if ctx.settings.scheduler.embedded:
        guarded(scheduler_host, what="starting the background scheduler")
    status = services.paper_status(ctx)
    with st.sidebar:
        mode = status["mode"].upper()
        st.markdown(f"**Mode:** :{'red' if mode == 'LIVE' else 'green'}-background[{mode}]")
        st.toggle("Paper trading", value=status["enabled"], key="sidebar_paper_toggle", on_change=_on_toggle,
                  help="Starts or stops the background trading loop. The state is saved: after a restart the loop resumes.")
    status_strip()
    alerts_banner()
