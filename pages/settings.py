"""Settings: mode, risk limits (validated, saved to the store), brokers and keys (masked), data sources."""

import pandas as pd
import streamlit as st

from core import services
from core.config import ConfigError
from ui.common import context, guarded

st.title("Settings")
ctx = context()
view = services.config_view(ctx)

st.subheader("Mode")
mode = view["mode"]
if mode == "live":
    st.error("LIVE mode: orders go to real accounts.")
else:
    st.success("PAPER mode: orders go to the simulated broker or a venue's testnet/paper account.")
st.caption(
    "Live trading is never switched on from here: set `mode: live` **and** `live_confirmed: true` in config.yaml "
    "(or APP__MODE / APP__LIVE_CONFIRMED) and restart. Both are required."
)

st.subheader("Risk limits")
limits = guarded(services.risk_limits, ctx, what="reading risk limits")
if limits is not None:
    with st.form("settings_risk_form"):
        c1, c2, c3 = st.columns(3)
        values = {
            "max_position_pct": c1.number_input("Max position (% of equity)", 0.1, 100.0, limits.max_position_pct * 100, 0.5) / 100,
            "max_drawdown_pct": c2.number_input("Drawdown halt (%)", 10.0, 15.0, limits.max_drawdown_pct * 100, 0.5) / 100,
            "daily_loss_cap_pct": c3.number_input("Daily loss cap (%)", 0.1, 100.0, limits.daily_loss_cap_pct * 100, 0.5) / 100,
            "var_budget_pct": c1.number_input("VaR 99% budget (% of equity)", 0.1, 100.0, limits.var_budget_pct * 100, 0.1) / 100,
            "max_gross_exposure": c2.number_input("Max gross exposure (× equity)", 0.1, 10.0, limits.max_gross_exposure, 0.1),
            "max_net_exposure": c3.number_input("Max net exposure (× equity)", 0.1, 10.0, limits.max_net_exposure, 0.1),
            "max_correlation": c1.number_input("Max correlation with book", 0.05, 1.0, limits.max_correlation, 0.05),
            "max_order_notional": c2.number_input("Max notional per order", 1.0, 1e9, limits.max_order_notional, 1000.0),
            "max_orders_per_minute": int(c3.number_input("Max orders per minute", 1, 10_000, limits.max_orders_per_minute, 1)),
            "kelly_fraction": c1.number_input("Kelly fraction", 0.01, 1.0, limits.kelly_fraction, 0.05),
        }
        if st.form_submit_button("Save risk limits"):
            try:
                services.save_risk_limits(values, ctx=ctx)
                st.success("Risk limits saved; the risk engine uses them from the next order on.")
            except ConfigError as exc:
                st.error(f"Not saved: {exc}")

st.subheader("Brokers and keys")
st.caption("Keys come only from the environment or `.env` (e.g. APP__BROKERS__ALPACA__API_KEY); they are shown masked and never stored.")
brokers = view["brokers"]
rows = []
for venue in ("binance", "alpaca", "zerodha"):
    cfg = brokers[venue]
    rows.append({
        "venue": venue,
        "api key": cfg.get("api_key"),
        "secret": cfg.get("api_secret"),
        "sandbox / paper": "yes" if cfg.get("testnet", cfg.get("paper", False)) else ("n/a" if venue == "zerodha" else "NO (live)"),
    })
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.write(f"Default broker: **{brokers['default']}**")

st.subheader("Data sources")
series = guarded(services.list_series, ctx, what="listing data") or []
st.dataframe(pd.DataFrame([s.to_dict() for s in series]), hide_index=True, width="stretch")
st.caption(f"Database: `{services.safe_database_url(ctx)}`")

st.subheader("Market data: test connection")
st.caption(f"The paper loop's feed: **{ctx.settings.data.provider}** (`data.provider`). A test fetches one closed bar; the error comes in one line.")
with st.form("feed_test"):
    cols = st.columns(3)
    provider = cols[0].selectbox("Provider", ["venue", "ccxt", "alpaca", "yfinance", "zerodha"])
    symbol = cols[1].text_input("Symbol (the provider's spelling)", value=ctx.settings.data.default_symbol)
    timeframe = cols[2].text_input("Bar interval", value=ctx.settings.trading.timeframe)
    if st.form_submit_button("Test connection"):
        result = services.check_feed(provider, symbol, timeframe, ctx=ctx)
        if result["ok"]:
            bar = result["bar"]
            st.success(f"{result['source']} {symbol} {timeframe}: last closed bar {bar['ts']}, close {bar['close']:g}")
        else:
            st.error(result["error"])
