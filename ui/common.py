"""Shared page furniture: facade access, error display, the sidebar (toggle, mode, status)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from core import services
from core.config import ConfigError

T = TypeVar("T")
log = logging.getLogger("pages")


def context() -> services.Context:
    """Return the process-wide core context (a process singleton in core, created once)."""
    return services.get_context()


@st.cache_resource(show_spinner=False)
def scheduler_host():
    """Start the embedded scheduler once per server process (never per rerun)."""
    from jobs.host import embedded_host

    return embedded_host(context())


def _error_text(exc: BaseException, what: str) -> str:
    from core.log import MASK_FILTER

    if isinstance(exc, ConfigError):
        return MASK_FILTER.mask(f"Configuration problem: {exc}")
    if isinstance(exc, (ValueError, RuntimeError, OSError, KeyError)):
        return MASK_FILTER.mask(f"Could not do {what}: {exc}")
    # a bug: one line for the user, the traceback in the log (masked there too)
    return MASK_FILTER.mask(f"Could not do {what}: unexpected {type(exc).__name__}: {exc} (a bug: please report it; details in the log)")


def guarded(fn: Callable[..., T], *args: Any, what: str = "this", **kwargs: Any) -> T | None:
    """Call a core function and show an ``st.error`` with what to do instead of a traceback."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        if not isinstance(exc, (ConfigError, ValueError, RuntimeError, OSError, KeyError)):
            log.exception("unexpected error in %s", what)
        st.error(_error_text(exc, what))
    return None


def task_result(task: Any, what: str) -> Any:
    """Return a finished background task's result; show its error (as :func:`guarded` does) or its progress instead.

    While the task runs, a fragment polls it every second (only that panel reruns, the rest of
    the page stays usable) and reruns the page once it has ended, so the result appears.
    """
    if task.running:
        _progress(task, what)
        return None
    if task.state == "failed":
        st.error(_error_text(task.error, what))
        return None
    return task.result


def _progress(task: Any, what: str) -> None:
    @st.fragment(run_every=1.0)
    def poll() -> None:
        if not task.running:
            st.rerun()
        st.progress(task.fraction, text=f"{what[:1].upper()}{what[1:]}: {task.message} · {task.elapsed:.0f} s")

    poll()


def _on_toggle() -> None:
    from ui import auth  # callbacks run before app.py's gate: a timed-out session must not act

    if not auth.session_valid():
        return
    st.session_state.pop("sidebar_paper_refused", None)
    if st.session_state["sidebar_paper_toggle"]:
        try:
            services.paper_start(actor=auth.actor())
        except (ValueError, ConfigError) as exc:  # e.g. the strategy fails the look-ahead check: stay off, say why
            st.session_state["sidebar_paper_toggle"] = False
            st.session_state["sidebar_paper_refused"] = str(exc)
            return
        if context().settings.scheduler.embedded:  # the first tick now, not one tick interval (60 s by default) later
            guarded(lambda: scheduler_host().wake(), what="waking the trading loop")
    else:
        services.paper_stop(actor=auth.actor())


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
        if st.session_state.get("sidebar_paper_refused"):
            st.error(f"Paper trading not started: {st.session_state['sidebar_paper_refused']}")
    status_strip()
    alerts_banner()


def exposure_metrics(columns: list, exposure: dict) -> None:
    """Show a book's beta and concentration (from ``services.book_exposure``) in two metric columns."""
    beta = exposure["beta"]
    columns[0].metric(f"Beta vs {exposure['benchmark']}", "n/a" if beta is None else f"{beta:.3f}",
                      help="cov(daily returns, benchmark's) / var(benchmark's), on the dates both have")
    columns[1].metric("Concentration (HHI)", f"{exposure['concentration']:.3f}",
                      help="Herfindahl index of absolute position values: 1 = one position, 1/n = n equal ones, 0 = flat")


def lazy_tabs(key: str, views: dict[str, Callable[[], None]]) -> None:
    """Show ``views`` (label -> renderer) as tabs of which only the open one runs and is sent (``on_change="rerun"``).

    A chart costs a new browser tab its drawing (issue 18), so a page's secondary views should not run on every visit.
    The open view is kept in the URL under ``key`` (e.g. ``/risk?risk_view=Research``), so it can be linked.
    """
    tabs = st.tabs(list(views), key=key, on_change="rerun", bind="query-params")
    for tab, render in zip(tabs, views.values(), strict=True):
        with tab:
            if tab.open:
                render()


def start_in_background(state_key: str, fn: Callable[..., Any], *args: Any, what: str, **kwargs: Any) -> None:
    """Start ``fn`` as a background task for this click (``services.start_task`` options in ``kwargs``); remember it under ``state_key``."""
    import uuid

    task = services.start_task(f"{state_key}:{uuid.uuid4().hex[:12]}", fn, *args, label=what, **kwargs)
    st.session_state[state_key] = task.key


def background_result(state_key: str, what: str) -> Any:
    """Return the result of the session's last task under ``state_key`` once it has finished.

    None while it runs (its progress is shown, see :func:`task_result`), after an error (shown),
    or when there is none.
    """
    key = st.session_state.get(state_key)
    task = services.task(key) if key else None
    return None if task is None else task_result(task, what)


_BOUNDS = {"le": "at most", "lt": "below", "ge": "at least", "gt": "above"}


def form_error(exc: ConfigError, shown: dict[str, tuple[str, float]], section: str) -> str:
    """Return why a form was refused, in the form's own words: each field's label, the value typed and its bound, in the units shown.

    ``shown`` maps a key (``max_position_pct``, ``stop.percent``) to its label and the factor from the stored
    value to the shown one (100 for a fraction shown in percent); each line ends with the setting's key
    (``section.key``, as in config.yaml). Keys without a label keep the service's line.
    """
    lines = []
    for err in exc.problems:
        key = ".".join(str(p) for p in err.get("loc", ()))
        if key not in shown:
            return str(exc)
        label, scale = shown[key]
        value = err.get("input")
        typed = f"{value * scale:g}" if isinstance(value, int | float) and not isinstance(value, bool) else repr(value)
        bound = next(((word, (err.get("ctx") or {})[k]) for k, word in _BOUNDS.items() if k in (err.get("ctx") or {})), None)
        if bound is not None:
            rule = f"must be {bound[0]} {bound[1] * scale:g}"
        elif err.get("type", "").startswith("int"):
            rule = "must be a whole number"
        else:
            rule = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
        lines.append(f"{label} = {typed}: {rule} ({section}.{key})")
    return "; ".join(lines) or str(exc)
