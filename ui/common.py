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
    from jobs.host import SchedulerHost

    host = SchedulerHost(context())
    host.start()
    return host


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
    """Render the sidebar shown on every page: mode, paper toggle, loop status."""
    ctx = context()
    if ctx.settings.scheduler.embedded:
        guarded(scheduler_host, what="starting the background scheduler")
    status = services.paper_status(ctx)
    with st.sidebar:
        mode = status["mode"].upper()
        st.markdown(f"**Mode:** :{'red' if mode == 'LIVE' else 'green'}-background[{mode}]")
        st.toggle("Paper trading", value=status["enabled"], key="sidebar_paper_toggle", on_change=_on_toggle,
                  help="Starts or stops the background trading loop. The state is saved: after a restart the loop resumes.")
        _loop_panel()


@st.fragment(run_every=5)
def _loop_panel() -> None:
    status = services.paper_status(context())
    if status["enabled"]:
        last = status.get("last_tick_at")
        st.caption(f"Loop: **running** · last tick {last[:19].replace('T', ' ') if last else '— waiting for the first tick'}")
        if status.get("waiting_for_lease"):
            st.caption(f"Another host holds the trading lease ({status['waiting_for_lease']}); this one waits.")
    else:
        st.caption("Loop: stopped")
    feed = status.get("feed") or {}
    if feed:
        age = feed.get("age_seconds")
        last_bar = (feed.get("last_bar") or "—")[:16].replace("T", " ")
        st.caption(f"Feed: **{feed['provider']}** ({'live' if feed.get('live') else 'replay'}) · last bar {last_bar}"
                   + (f" · {age / 60:.0f} min old" if feed.get("live") and age is not None else ""))
    if status.get("halt"):
        what = "no new risk until bars return" if status["halt"] == "stale data" else "no orders until the session opens"
        st.caption(f":red[**{status['halt'].capitalize()}**: {what}]")
    if status.get("last_error"):
        st.caption(f":orange[Last error: {status['last_error'][:160]}]")
