"""The shell every page shares: the loop's status strip (sidebar) and the alerts banner (top of the page).

Both read :func:`core.services.loop_state` and :func:`core.services.alerts`; nothing
here decides what the loop is doing.
"""

from __future__ import annotations

import streamlit as st

from core import services
from ui.common import context

_COLOURS = {"running": "green", "halted": "red", "error": "red", "exhausted": "orange", "waiting_for_lease": "orange",
            "not_ticking": "orange", "market_closed": "blue", "starting": "blue", "stopped": "gray"}
# Streamlit draws primary buttons in the theme's primary colour (our green "go"); danger buttons opt in with a key prefix.
_DANGER_CSS = """
<style>
.st-key-danger_kill button, [class*="st-key-risk_kill"] button {
  background-color: #b71c1c !important; border-color: #ff5252 !important; color: #fff !important; font-weight: 700;
}
.st-key-danger_kill button:hover, [class*="st-key-risk_kill"] button:hover { background-color: #d32f2f !important; }
</style>
"""


def status_strip() -> None:
    """Render the loop's status in the sidebar (refreshes every 5 s)."""
    with st.sidebar:
        _strip()


@st.fragment(run_every=5)
def _strip() -> None:
    state = services.loop_state(context())
    colour = _COLOURS.get(state.state, "gray")
    text = services.STATE_LABELS.get(state.state, state.state)
    # Always the same two elements: a reason caption present in one run and not in the next shifted the details by one, and
    # the browser kept the previous run's details as a second, stale strip (seen in the new-user screenshot after the toggle).
    st.markdown(f"**Loop:** :{colour}-background[{text}]")
    st.caption(
        (f":{colour}[{state.reason}]  \n" if state.reason else "") +
        f"**Strategy** {state.strategy} · {', '.join(state.symbols)}  \n"
        f"**Venue** {state.venue} · **Feed** {state.feed}" + (f" {state.feed_detail}" if state.feed_detail else "") + "  \n"
        f"**Last closed bar** {services.format_ts(state.last_bar)} ({state.timezone}) · {state.last_bar_age}"
    )


def alerts_banner() -> None:
    """Render the alerts in force at the top of the page, and a toast for each one that just started."""
    st.markdown(_DANGER_CSS, unsafe_allow_html=True)
    _banner()


@st.fragment(run_every=5)
def _banner() -> None:
    found = services.alerts(context())
    seen = st.session_state.setdefault("shell_alerts_seen", set())
    keys = {a.key for a in found}
    for alert in found:
        (st.error if alert.level == "error" else st.warning)(alert.message, icon=":material/warning:")
        if alert.key not in seen:
            st.toast(alert.message, icon=":material/notification_important:")
    seen.clear()
    seen.update(keys)
