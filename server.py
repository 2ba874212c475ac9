"""The app server: ``streamlit run server.py`` (what ``make run`` does).

A Streamlit ASGI app around ``app.py`` whose start-up hook starts the embedded
scheduler, so that after a restart the paper loop resumes (when its toggle is on)
without waiting for a browser to open a page; the shutdown hook stops it and
releases the trading lease. ``streamlit run app.py`` still works: the scheduler
then starts with the first page view.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

log = logging.getLogger("jobs")

# app.py declares its pages with st.navigation. Streamlit otherwise treats the pages/ folder as an
# old-style multipage app until a session has run app.py once, so a deep link such as /risk opened
# first on a fresh server would run pages/risk.py alone: a file-name menu and no sidebar toggle.
PagesManager.uses_pages_directory = False


def warm_up() -> None:
    """Do once at start what the first page view would otherwise pay for (issue 18: first load < 2 s).

    Profiles of cold page loads (py-spy on the server) showed the first run of a page importing the
    facade's areas (the model registry with scikit-learn, the diff, risk views), pyarrow for the
    bundled data index, scipy.stats and arch for the Risk page: 0.3-1.2 s of a cold load. Doing it here costs
    ~0.8 s of server start. The heap is then frozen (``gc.freeze``) so that collections, which hold
    the GIL, no longer walk the ~500,000 long-lived objects of these libraries.
    """
    import gc

    import arch.univariate  # noqa: F401 - the Risk page's GARCH row (issue 15: ~1 s on the first tick of its checkbox)
    import pandas.io.formats.style  # noqa: F401 - the Risk page's VaR table (pandas' Styler and jinja2: ~60 ms of its first run)
    import plotly.subplots  # noqa: F401 - every chart page
    import scipy.stats  # noqa: F401 - the Risk page's VaR tables

    from core import services

    for name in services.__all__:  # the facade imports its areas lazily (PEP 562): import them all now
        getattr(services, name)
    import ui.charts
    import ui.common
    import ui.live_diff
    import ui.status
    import ui.trust  # noqa: F401

    services.list_series(services.get_context())  # reads the bundled data index (pyarrow)
    _warm_plotly()
    gc.collect()
    gc.freeze()


def _warm_plotly() -> None:
    """Build and serialise one tiny figure of each trace type the pages draw, as ``st.plotly_chart`` does.

    plotly.py fills its validator caches on first use: the first set of figures in a process took 0.14 s to build and
    serialise, the next sets 0.07 s (measured after the imports above), a cost the first chart page of a fresh server paid.
    """
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.io import to_json

    from ui import charts

    days = pd.date_range("2024-01-01", periods=3, freq="D")
    bars = pd.DataFrame({"open": [1.0, 2.0, 3.0], "high": 3.0, "low": 1.0, "close": [2.0, 3.0, 2.0], "volume": 1.0}, index=days)
    small = pd.Series([1.0, 2.0], index=["a", "b"])
    for fig in (charts.candlestick(bars), charts.heatmap(pd.DataFrame([[1.0, 0.5], [0.5, 1.0]], index=["a", "b"], columns=["a", "b"])),
                charts.lines({"a": bars["close"]}), charts.pie(small), charts.bars(small), go.Figure(go.Indicator(mode="number", value=1.0))):
        to_json(fig, validate=False)


@asynccontextmanager
async def lifespan(_app: object) -> AsyncIterator[None]:
    """Start the embedded scheduler with the server and stop it (releasing the lease) with the server."""
    from jobs.host import embedded_host, stop_embedded_host

    try:
        from core.services import get_context

        ctx = get_context()
        if ctx.settings.scheduler.embedded:
            embedded_host(ctx)
    except Exception as exc:  # a configuration problem is shown by the pages; the server still starts
        log.error("the embedded scheduler did not start: %s", exc)
    try:
        warm_up()
    except Exception as exc:  # only a speed-up: a page still imports what it needs
        log.warning("warming up the page imports failed: %s", exc)
    try:
        yield
    finally:
        stop_embedded_host()
        from core.services.background import shutdown_workers

        shutdown_workers()  # the background-task workers end with the server (they also exit if it is killed)


app = st.App("app.py", lifespan=lifespan)
