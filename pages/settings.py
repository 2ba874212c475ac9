"""Settings: mode, risk limits (validated, saved to the store), brokers and keys (masked), data sources."""

import pandas as pd
import streamlit as st

from core import services
from core.config import ConfigError
from ui.auth import account_panel, actor
from ui.common import context, form_error, guarded

st.title("Settings")
ctx = context()
account_panel()
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
    # No widget bounds: the browser would silently keep the old value of an out-of-range entry and the
    # page would then say "saved". Every value reaches the validation below, which names what is wrong.
    with st.form("settings_risk_form"):
        c1, c2, c3 = st.columns(3)
        fields = [  # (key, label, column, shown value, step, scale shown -> stored)
            ("max_position_pct", "Max position (% of equity)", c1, 100, 0.5),
            ("max_drawdown_pct", "Drawdown halt (%, 10-15)", c2, 100, 0.5),
            ("daily_loss_cap_pct", "Daily loss cap (%)", c3, 100, 0.5),
            ("var_budget_pct", "VaR 99% budget (% of equity)", c1, 100, 0.1),
            ("max_gross_exposure", "Max gross exposure (× equity)", c2, 1, 0.1),
            ("max_net_exposure", "Max net exposure (× equity)", c3, 1, 0.1),
            ("max_correlation", "Max correlation with book", c1, 1, 0.05),
            ("max_order_notional", "Max notional per order", c2, 1, 1000.0),
            ("max_orders_per_minute", "Max orders per minute", c3, 1, 1.0),
            ("kelly_fraction", "Kelly fraction", c1, 1, 0.05),
        ]
        values = {key: col.number_input(label, value=float(getattr(limits, key)) * scale, step=step, key=f"set_{key}",
                                             format="%.0f" if step >= 1 else "%.2f") / scale
                  for key, label, col, scale, step in fields}
        values["max_orders_per_minute"] = int(values["max_orders_per_minute"]) if values["max_orders_per_minute"] == int(values["max_orders_per_minute"]) \
            else values["max_orders_per_minute"]
        st.caption("Protective stop: every position a strategy opens carries one (risk.stop); a new paper session keeps the values of its start.")
        stop = limits.stop
        s1, s2, s3 = st.columns(3)
        kinds = ["percent", "atr", "trailing"]
        values["stop"] = {
            "enabled": s1.checkbox("Protective stop on", value=stop.enabled, key="set_stop_enabled"),
            "kind": s2.selectbox("Stop kind", kinds, index=kinds.index(stop.kind), key="set_stop_kind",
                                 help="percent: fixed below/above the entry; atr: a multiple of the ATR; trailing: follows the best price"),
            "percent": s3.number_input("Stop distance (% of entry; percent and trailing)", value=stop.percent * 100, step=0.5, key="set_stop_percent",
                                       format="%.2f") / 100,
            "atr_multiple": s1.number_input("Stop distance (× ATR; atr kind)", value=float(stop.atr_multiple), step=0.5, key="set_stop_atr_multiple",
                                            format="%.2f"),
            "atr_window": s2.number_input("ATR window (bars)", value=float(stop.atr_window), step=1.0, key="set_stop_atr_window", format="%.0f"),
            "take_profit_r": s3.number_input("Take-profit (× stop distance, 0 = none; an OCO pair)", value=float(stop.take_profit_r), step=0.5,
                                             key="set_stop_take_profit_r", format="%.2f"),
        }
        risk_shown = {key: (label, scale) for key, label, _, scale, _ in fields} | {
            "stop.percent": ("Stop distance (%)", 100), "stop.atr_multiple": ("Stop distance (× ATR)", 1), "stop.atr_window": ("ATR window (bars)", 1),
            "stop.take_profit_r": ("Take-profit (× stop distance)", 1)}
        if values["stop"]["atr_window"] == int(values["stop"]["atr_window"]):
            values["stop"]["atr_window"] = int(values["stop"]["atr_window"])
        if st.form_submit_button("Save risk limits"):
            try:
                services.save_risk_limits(values, actor=actor(), ctx=ctx)
                st.session_state["settings_risk_msg"] = ("success", "Risk limits saved; the risk engine uses them from the next order on.")
            except ConfigError as exc:
                st.session_state["settings_risk_msg"] = ("error", f"Not saved: {form_error(exc, risk_shown, 'risk')}")
            except ValueError as exc:
                st.session_state["settings_risk_msg"] = ("error", f"Not saved: {exc}")
    kind, text = st.session_state.pop("settings_risk_msg", (None, None))
    if kind:  # one message, the latest: an earlier "saved" never stays under a refusal
        (st.success if kind == "success" else st.error)(text)
    inforce = services.risk_limits(ctx)
    st.caption("In force now (what the risk engine uses): " + " · ".join(
        f"{label.split(' (')[0].lower()} {getattr(inforce, key) * scale:,.6g}{' %' if scale == 100 else ''}" for key, label, _, scale, _ in fields))
    st.caption("Protective stop in force: " + (
        "off" if not inforce.stop.enabled else
        f"{inforce.stop.kind} · " + (f"{inforce.stop.atr_multiple:g} × ATR({inforce.stop.atr_window})" if inforce.stop.kind == "atr"
                                     else f"{inforce.stop.percent * 100:g} %")
        + (f" · take-profit {inforce.stop.take_profit_r:g}R" if inforce.stop.take_profit_r else "")))

st.subheader("Fill model")
costs = guarded(services.fill_defaults, ctx, what="reading the fill costs")
if costs is not None:
    st.caption("How paper fills are priced: the paper loop trades with these (a new paper session keeps the values of its start), "
               "and they are the Backtest page's defaults.")
    with st.form("settings_fill_form"):
        f1, f2, f3 = st.columns(3)
        fill = {  # shown in percent like every percentage on screen; no widget bounds (the validation names a bad value)
            "commission": f1.number_input("Commission (% of notional per fill)", value=costs["commission"] * 100, step=0.01, format="%.3f",
                                          key="set_fill_commission") / 100,
            "slippage_bps": f2.number_input("Slippage (bps against each market and stop fill)", value=costs["slippage_bps"], step=1.0,
                                            format="%.1f", key="set_fill_slippage_bps"),
            "max_volume_share": f3.number_input("Max share of a bar's volume (%, 0 = no cap)", value=costs["max_volume_share"] * 100, step=1.0,
                                                format="%.2f", key="set_fill_max_volume_share") / 100,
        }
        fill_shown = {"commission": ("Commission (%)", 100), "slippage_bps": ("Slippage (bps)", 1),
                      "max_volume_share": ("Max share of a bar's volume (%)", 100)}
        fill = {k: round(v, 12) for k, v in fill.items()}  # 0.05 % shown is 0.0005 stored, not 0.0005000000000000001
        if st.form_submit_button("Save fill model"):
            try:
                services.save_fill_costs(fill, actor=actor(), ctx=ctx)
                st.session_state["settings_fill_msg"] = ("success", "Fill model saved; the next paper session and backtest use it.")
            except ConfigError as exc:
                st.session_state["settings_fill_msg"] = ("error", f"Not saved: {form_error(exc, fill_shown, 'trading')}")
            except ValueError as exc:
                st.session_state["settings_fill_msg"] = ("error", f"Not saved: {exc}")
    kind, text = st.session_state.pop("settings_fill_msg", (None, None))
    if kind:
        (st.success if kind == "success" else st.error)(text)
    now = services.fill_defaults(ctx)
    st.caption(f"Fill model in force: commission {now['commission'] * 100:g} % · slippage {now['slippage_bps']:g} bps · "
               + ("no volume cap" if not now["max_volume_share"] else f"at most {now['max_volume_share'] * 100:g} % of a bar's volume"))

st.subheader("Brokers and keys")
st.caption("Keys come only from the environment or `.env` (e.g. APP__BROKERS__ALPACA__API_KEY); they are shown masked and never stored.")
brokers = view["brokers"]
rows = []
for venue in ("binance", "alpaca", "zerodha"):
    cfg = brokers[venue]
    rows.append({
        "venue": venue,
        "api key": cfg.get("api_key") or "(not set)",
        "secret": cfg.get("api_secret") or "(not set)",
        "sandbox / paper": "yes" if cfg.get("testnet", cfg.get("paper", False)) else ("n/a" if venue == "zerodha" else "NO (live)"),
    })
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.write(f"Default broker: **{brokers['default']}**")

st.subheader("Data sources")
series = guarded(services.list_series, ctx, what="listing data") or []
sources = pd.DataFrame([s.to_dict() for s in series])
for col in ("start", "end"):  # dates as on every page, not ISO strings with their offset
    if col in sources:
        sources[col] = [services.format_ts(v) for v in sources[col]]
st.dataframe(sources, hide_index=True, width="stretch")
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
            st.success(f"{result['source']} {symbol} {timeframe}: last closed bar {services.format_ts(bar['ts'])}, close {bar['close']:g}")
        else:
            st.error(result["error"])

st.subheader("Venues: test connection")
st.caption(f"The loop trades through **{ctx.settings.brokers.default}** (`brokers.default`). A test reads the account; the error comes in one line.")
for col, venue in zip(st.columns(4), ["binance", "alpaca", "zerodha", "router"], strict=True):
    if col.button(f"Test {venue}", key=f"venue_test_{venue}"):
        result = services.check_venue(venue, ctx=ctx)
        if result["ok"]:
            st.success(f"{result['name']} ({result['endpoint']}): cash {result['cash']:g} {result['currency']}, {result['open_orders']} open orders")
        else:
            st.error(result["error"])
