"""Streamlit helpers shared by the pages (UI only: no trading logic here).

Importing this package also closes a back door. Streamlit treats a folder named
``pages/`` next to the main script as a legacy multipage app until the first
``st.navigation`` call of the server process: until then a first request for,
say, ``/risk`` runs ``pages/risk.py`` directly, without ``app.py`` and its
sign-in gate. Every page imports ``ui`` before it renders anything, so the
first such import switches that mode off and reruns the request through
``app.py``. ``server.py`` switches it off at import already; for a plain
``streamlit run app.py``, ``test_streamlit_run_app_py_on_every_interface_serves_only_the_setup_screen``
(tests/ui/test_browser_auth.py) opens ``/risk`` first on a fresh server to prove it.
"""


def _leave_legacy_pages_mode() -> None:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets
        if get_script_run_ctx(suppress_warning=True) is not None:
            import streamlit as st

            st.rerun()


_leave_legacy_pages_mode()
