"""Risk: VaR/CVaR by method and over time, limit utilisation, correlations, the kill switch, the audit log."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import services
from core.services import format_pct as pct
from ui.auth import actor, signed_in_only
from ui.charts import heatmap, naive
from ui.common import context, exposure_metrics, guarded, lazy_tabs
from ui.trust import exposure_panel, session_forecast_panel

METHODS = {"hist": "Historical", "param": "Normal", "cf": "Cornish-Fisher", "mc": "Monte Carlo", "garch": "GARCH(1,1)-t"}


@st.cache_data(ttl=600, show_spinner="Estimating VaR by five methods…")
def _report(symbol: str, garch: bool) -> dict:
    return services.risk_report(symbol, garch=garch)


@st.cache_data(ttl=600, show_spinner="Rolling VaR…")
def _rolling(symbol: str, window: int, level: float) -> pd.DataFrame:
    return services.rolling_var(symbol, window=window, level=level)


@st.cache_data(ttl=600, show_spinner=False)
def _corr() -> pd.DataFrame:
    return services.correlation_matrix()


@st.fragment
def _kill_switch(ctx) -> None:
    """The kill switch (a fragment: asking and cancelling rerun only this panel; engaging or re-arming reruns the page)."""
    status = services.risk_status(ctx)
    kill = status["kill_switch"]
    if kill.get("engaged"):
        st.error(f"**Kill switch ENGAGED** since {services.format_ts(kill.get('since'), with_time=True)} by {kill.get('actor', '?')}"
                 + (f" — {kill['reason']}" if kill.get("reason") else "") + ". New risk is vetoed; closing orders still pass.")
        if st.button("Re-arm trading", key="risk_rearm", icon=":material/lock_open:"):
            services.rearm_kill_switch(actor=actor(), ctx=ctx)
            st.rerun()
        return
    if status["drawdown_halt"].get("active"):
        st.warning("Trading is halted by the drawdown limit; reset it from the CLI (`risk reset-halt`) after review.")
    if not st.session_state.get("risk_confirm"):
        st.button("Engage kill switch", type="primary", key="risk_kill", icon=":material/emergency_home:", on_click=_ask, args=(True,),
                  help="Halts all new risk and flattens every paper position at the next tick of the trading loop.")  # fmt: skip
        return
    st.warning("This halts all new orders and closes every paper position at the next bar. Are you sure?")
    reason = st.text_input("Reason (for the audit log)", value="manual halt from the UI", key="risk_reason")
    yes, no = st.columns(2)
    if yes.button("Yes, halt and flatten", type="primary", key="risk_kill_confirm", icon=":material/check:"):
        orders = services.engage_kill_switch(services.paper_state(ctx=ctx), reason=reason, actor=actor(), ctx=ctx)
        st.session_state["risk_confirm"] = False
        st.session_state["risk_flatten"] = [f"{o.side} {o.quantity:g} {o.symbol}" for o in orders]
        st.rerun()
    no.button("Cancel", key="risk_kill_cancel", on_click=_ask, args=(False,))


@signed_in_only
def _ask(confirm: bool) -> None:
    st.session_state["risk_confirm"] = confirm


def _book_view(ctx) -> None:
    """The paper book as of the session clock: limit utilisation, exposure, VaR/CVaR, drawdown, correlations, forecasts."""
    st.subheader("Limit utilisation (paper book)")
    rows = guarded(services.limit_utilisation, ctx=ctx, what="measuring the limits") or []
    cols = st.columns(3)
    for i, row in enumerate(rows):
        with cols[i % 3]:
            over = " · :red[**over the limit**]" if row["utilisation"] > 1 else ""
            st.progress(min(row["utilisation"], 1.0), text=f"**{row['limit']}**: {pct(row['used'])} of {pct(row['cap'])} ({pct(row['utilisation'], 0)}){over}")
    exposure = guarded(services.book_exposure, ctx=ctx, what="beta and concentration")
    if exposure:
        exposure_metrics(st.columns(3)[:2], exposure)
    if rows and exposure and not exposure["exists"]:  # (not paper_book: it builds the trades and the curve just to say whether the book exists)
        st.caption("No paper positions yet: switch on paper trading in the sidebar to fill the book.")

    st.subheader("The paper book as of the session clock")
    try:
        book = services.book_risk(ctx=ctx)
    except ValueError as exc:
        hint = "it fills as the trading loop runs" if services.paper_status(ctx)["enabled"] else "switch on paper trading in the sidebar"
        st.caption(f"No book risk yet: {exc}; {hint}.")
    else:
        st.caption(f"{services.format_ts(book['start'])} → {services.format_ts(book['asof'])} ({book['points']:,} daily returns of the paper equity; "
                   "nothing after the session's current bar).")
        b = st.columns(5)
        b[0].metric("1-day VaR 99 % (historical)", f"{book['var_99_hist_pct']:.2f} %")
        b[1].metric("1-day CVaR 99 % (historical)", f"{book['cvar_99_hist_pct']:.2f} %")
        b[2].metric("1-day VaR 95 % (normal)", f"{book['var_95_param_pct']:.2f} %")
        b[3].metric("Sharpe (book, annualised)", f"{book['sharpe']:.2f}")
        b[4].metric("Max drawdown (book)", f"{book['max_drawdown_pct']:.2f} %")
        if len(book["correlation"]):
            st.plotly_chart(heatmap(book["correlation"], f"Correlation of the book's symbols, 250 days to {services.format_ts(book['asof'])}", fmt=".2f",
                                    height=300, colorscale="RdBu_r", zmid=0.0), width="stretch", key="risk_book_corr")

    session_forecast_panel()


def _research_view() -> None:
    """Full-history research views, labelled as such: one symbol's VaR by method and over time, forecast-driven exposure, correlations."""
    st.subheader("Research: one symbol over its full bundled history")
    st.caption("Not the book and not as of the session: every bundled bar of the chosen symbol, for studying the VaR methods.")
    symbols = services.list_symbols("1d")
    c1, c2, c3 = st.columns(3)
    symbol = c1.selectbox("Symbol", symbols, index=symbols.index("AAPL") if "AAPL" in symbols else 0, key="risk_symbol")
    level = c2.select_slider("Confidence", options=[0.95, 0.975, 0.99], value=0.99, format_func=lambda v: pct(v, 1), key="risk_level")
    window = c3.select_slider("Rolling window (days)", options=[60, 125, 250, 500], value=250, key="risk_window")
    # The GARCH fit is most of the report's time: on request, so the page's first load stays fast.
    garch = st.checkbox("Add the GARCH(1,1)-t forecast (fits a model, about a second)", key="risk_garch")
    report = guarded(_report, symbol, garch, what=f"the risk report of {symbol}")
    if report:
        methods = {m: label for m, label in METHODS.items() if garch or m != "garch"}
        table = pd.DataFrame({f"{kind} {lvl}%": [report.get(f"{kind.lower()}_{lvl}_{m}_pct") for m in methods]
                              for lvl in (95, 99) for kind in ("VaR", "CVaR")}, index=list(methods.values()))
        left, right = st.columns([3, 2])
        left.dataframe(table.style.format("{:.2f} %"), width="stretch")
        right.metric("Sharpe", f"{report['sharpe']:.2f}")
        right.metric("Max drawdown", f"{report['max_drawdown_pct']:.1f} %")
        right.metric(f"{symbol} beta vs {report['benchmark']}", "n/a" if report["beta"] is None else f"{report['beta']:.3f}")
        st.caption(f"One-day losses in percent of position value, {report['start'][:10]} → {report['end'][:10]}. "
                   "Cornish-Fisher can overshoot on fat-tailed series"
                   + ("; the GARCH row is the conditional forecast for the day after the last bar." if garch else "."))
    roll = guarded(_rolling, symbol, window, level, what="the rolling VaR")
    if roll is not None:
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=naive(roll.index), y=-roll["return"], mode="lines", name="daily loss", line=dict(color="#78909c", width=0.8)))
        fig.add_trace(go.Scatter(x=naive(roll.index), y=roll["hist"], mode="lines", name=f"historical VaR {pct(level, 1)}", line=dict(color="#ffca28")))
        fig.add_trace(go.Scatter(x=naive(roll.index), y=roll["param"], mode="lines", name="normal VaR", line=dict(color="#42a5f5")))
        fig.add_trace(go.Scatter(x=naive(roll.index), y=roll["cvar_hist"], mode="lines", name="historical CVaR", line=dict(color="#ef5350", dash="dot")))
        b = roll[roll["breach"]]
        fig.add_trace(go.Scatter(x=naive(b.index), y=-b["return"], mode="markers", name="breach", marker=dict(color="#ef5350", size=6)))
        fig.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10), yaxis_tickformat=".0%",
                          title=f"{symbol}: {window}-day rolling VaR · breaches {pct(roll['breach'].mean())} of days (expected {pct(1 - level, 1)})",
                          legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0))
        st.plotly_chart(fig, width="stretch", key="risk_roll")

    exposure_panel(symbols)

    st.subheader("Research: correlation of daily returns over the full bundled history")
    corr = guarded(_corr, what="the correlation matrix")
    if corr is not None and len(corr):
        st.plotly_chart(heatmap(corr, "", fmt=".2f", height=380, colorscale="RdBu_r", zmid=0.0), width="stretch", key="risk_corr")


def _audit_view(ctx) -> None:
    """The audit log of risk decisions, filterable."""
    st.subheader("Audit log of risk decisions")
    log = ctx.store.audit_log(limit=200, kind="risk")
    if not log:
        st.info("No risk decisions yet. They appear here as the trading loop, manual tickets and the kill switch are used.")
    else:
        frame = pd.DataFrame([{"time": r.ts, "actor": r.actor, "decision": (r.data or {}).get("action", (r.data or {}).get("event", "")), "message": r.message}
                              for r in log])
        pick = st.multiselect("Decisions", sorted(frame["decision"].unique()), key="risk_audit_filter")
        frame = frame[frame["decision"].isin(pick)] if pick else frame
        st.dataframe(frame, width="stretch", hide_index=True, height=min(360, 40 + 35 * len(frame)),
                     column_config={"time": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                                    "message": st.column_config.TextColumn(width="large")})


st.title("Risk")
ctx = context()
st.subheader("Kill switch")
_kill_switch(ctx)
if st.session_state.get("risk_flatten") is not None:
    todo = st.session_state["risk_flatten"]
    st.caption("Flattening orders for the trading loop: " + (", ".join(todo) if todo else "none — the paper book is flat."))

# The book is what a trader opens the page for; the full-history research views (a 3,000-point rolling chart, every
# symbol's correlations) and the audit log are the other tabs, run only when opened.
lazy_tabs("risk_view", {"Paper book": lambda: _book_view(ctx), "Research": _research_view, "Audit log": lambda: _audit_view(ctx)})
