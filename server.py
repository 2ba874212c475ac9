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
        yield
    finally:
        stop_embedded_host()


app = st.App("app.py", lifespan=lifespan)
