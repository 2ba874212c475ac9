"""Streamlit entry point: navigation and the shared sidebar."""

import streamlit as st

from ui.auth import require_login, start_up
from ui.common import sidebar

st.set_page_config(page_title="AI Trading Platform", page_icon=":material/candlestick_chart:", layout="wide")

if not start_up():  # beyond loopback the reason goes to the server log only, not to a visitor who has not signed in
    st.stop()

pages = [
    st.Page("pages/dashboard.py", title="Dashboard", icon=":material/dashboard:", default=True),
    st.Page("pages/trading.py", title="Trading", icon=":material/candlestick_chart:"),
    st.Page("pages/portfolio.py", title="Portfolio", icon=":material/account_balance_wallet:"),
    st.Page("pages/backtest.py", title="Backtest", icon=":material/history:"),
    st.Page("pages/models.py", title="Models", icon=":material/model_training:"),
    st.Page("pages/risk.py", title="Risk", icon=":material/shield:"),
    st.Page("pages/news.py", title="News", icon=":material/newspaper:"),
    st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
]
require_login(pages)  # beyond loopback: sign in first; until then every page URL serves only the sign-in screen
nav = st.navigation(pages)
sidebar()
nav.run()
