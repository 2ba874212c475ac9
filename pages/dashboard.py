"""Dashboard: the paper account at a glance (live panels refresh while the loop runs), and prices."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core import services
from ui.charts import candlestick, naive
from ui.common import context, guarded
from ui.live_diff import live_vs_backtest_panel
from ui.trust import alarm_banner


@st.cache_data(ttl=300, show_spinner=False)
def _bars(symbol: str, timeframe: str) -> pd.DataFrame:
    return services.load_bars(symbol, timeframe=timeframe)


def _gauge(title: str, used: float, limit: float) -> go.Figure:
    share = used / limit if limit else 0.0
    color = "#26a69a" if share < 0.6 else ("#ffa726" if share < 0.9 else "#ef5350")
    fig = go.Figure(go.Indicator(
        mode="gauge+number", value=used * 100, number={"suffix": "%", "valueformat": ".2f"},
        title={"text": f"{title}<br><span style='font-size:0.8em;color:gray'>limit {limit * 100:.1f}%</span>"},
        gauge={"axis": {"range": [0, max(limit * 100 * 1.2, used * 100)]}, "bar": {"color": color},
               "threshold": {"line": {"color": "#ef5350", "width": 3}, "value": limit * 100}},
    ))  # fmt: skip
    fig.update_layout(height=240, margin=dict(l=30, r=30, t=90, b=10))
    return fig


@st.fragment(run_every=10)
def account_panel() -> None:
    data = guarded(services.dashboard, ctx=context(), what="reading the paper account")
    if data is None:
        return
    eq = data["equity"]
    loop = data["loop"]
    if eq.empty:
        st.info("No paper trading yet. Switch on **Paper trading** in the sidebar: the loop replays the bundled data "
                "bar by bar through the models, the risk engine and the paper broker, and this page fills up.")
        return
    last = eq.iloc[-1]
    c = st.columns(5)
    c[0].metric("Equity", f"{last.equity:,.2f}", f"{(last.equity / eq.equity.iloc[0] - 1) * 100:+.2f}% since start")
    c[1].metric("P&L on the last bar's day", f"{data['today_pnl']:+,.2f}" if data["today_pnl"] is not None else "—")
    c[2].metric("Cash", f"{last.cash:,.2f}")
    c[3].metric("Gross exposure", f"{last.gross / last.equity * 100:.1f}%")
    state = services.loop_state(context())
    c[4].metric("Last bar", f"{eq.index[-1]:%Y-%m-%d}", services.STATE_LABELS.get(state.state, state.state), delta_color="off",
                delta_arrow="off")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04)
    fig.add_trace(go.Scatter(x=naive(eq.index), y=eq.equity, name="equity", line=dict(color="#26a69a")), row=1, col=1)
    fig.add_trace(go.Scatter(x=naive(eq.index), y=eq.drawdown * 100, name="drawdown %", fill="tozeroy", line=dict(color="#ef5350")), row=2, col=1)
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10), showlegend=False, title="Equity and drawdown (%)")
    if len(eq) < 2:  # one point: give the axes a readable span instead of plotly's sub-millisecond autorange
        t = eq.index[-1]
        fig.update_xaxes(range=[t - pd.Timedelta(days=7), t + pd.Timedelta(days=7)])
        fig.update_yaxes(range=[last.equity * 0.98, last.equity * 1.02], row=1, col=1)
        fig.update_yaxes(range=[-5, 1], row=2, col=1)
    st.plotly_chart(fig, width="stretch")
    g = data["gauges"]
    cols = st.columns(3)
    cols[0].plotly_chart(_gauge("1-day VaR 99% (historical)", g["var_99"], g["var_budget"]), width="stretch")
    cols[1].plotly_chart(_gauge("Drawdown", g["drawdown"], g["drawdown_halt"]), width="stretch")
    cols[2].plotly_chart(_gauge("Daily loss", g["daily_loss"], g["daily_cap"]), width="stretch")
    left, right = st.columns(2)
    with left:
        st.subheader("Open positions")
        if data["positions"]:
            st.dataframe(pd.DataFrame(data["positions"]).round(2), hide_index=True, width="stretch")
        else:
            st.caption("Flat: no open positions.")
        rows = services.open_order_rows(context())
        queued = sum(r["state"] == "queued for the next bar" for r in rows)
        st.subheader("Open orders")
        st.caption(f"{len(rows) - queued} open at the paper broker · {queued} manual ticket{'s' if queued != 1 else ''} queued for the next bar")
        if rows:
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={"quantity": st.column_config.NumberColumn(format="%,.6g")})
    with right:
        st.subheader("Latest signals")
        sig = data["signals"]
        if sig.empty:
            st.caption("No signals yet (the ensemble strategy stores one per symbol and bar).")
        else:
            latest = sig.drop_duplicates("symbol")[["symbol", "ts", "p_up", "regime", "confidence", "status", "note"]]
            bar_time = {"ts": st.column_config.DatetimeColumn("bar (UTC)", format="YYYY-MM-DD HH:mm")}  # not "2005-02-22 00:00:00+00:00"
            st.dataframe(latest.round({"p_up": 3, "confidence": 3}), hide_index=True, width="stretch", column_config=bar_time)
            rules = data.get("signal_rules") or {}
            suppressed = sig[sig["status"] != "passed"]
            st.caption(f"Signal rules: cooldown {rules.get('cooldown_bars', '?')} bars (a repeat holds the position), conflict margin "
                       f"{rules.get('conflict_margin', '?')} (a reversal inside the cooldown needs that much more edge) · "
                       f"{len(suppressed)} of the last {len(sig)} signals suppressed")
            if not suppressed.empty:
                counts = suppressed["status"].value_counts()
                st.caption("Suppressed, by reason: " + " · ".join(f"{k} {v}" for k, v in counts.items()))
                st.dataframe(suppressed[["ts", "symbol", "p_up", "status", "note"]].head(20).round({"p_up": 3}), hide_index=True, width="stretch",
                             key="dash_suppressed_signals", column_config=bar_time)
        for w in data["models"]:
            st.caption(f"Model {w['model_id']}: trained on {services.format_ts(w['trained_from'])} → {services.format_ts(w['trained_to'])} · "
                       f"trades {services.format_ts(w['trades_from'])} → {services.format_ts(w['trades_to'])}"
                       + (" · :red[overlaps its training data]" if w["overlap"] else f" · {w['gap_bars']} bars between: no overlap"))
    timings = loop.get("timings_ms") or {}
    if timings:
        st.caption("Last tick, ms per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


st.title("Dashboard")
alarm_banner()
account_panel()
live_vs_backtest_panel()


@st.fragment(run_every=10)
def prices_panel() -> None:
    """Candles up to the paper session's clock, refreshed with the live panels (a session started after the page loaded
    must not leave it showing bars from its future)."""
    st.subheader("Prices")
    series = guarded(services.list_series, what="listing the bundled data") or []
    if not series:
        st.info("No market data found. The bundled files live in data/sample/; see its README.")
        return
    choices = sorted({f"{s.symbol} · {s.timeframe}" for s in series})
    default = choices.index("AAPL · 1d") if "AAPL · 1d" in choices else 0
    picked = st.selectbox("Symbol", choices, index=default, key="dash_symbol")
    symbol, timeframe = (part.strip() for part in picked.split("·"))
    bars = guarded(_bars, symbol, timeframe, what=f"loading {symbol}")
    asof = services.paper_asof()
    full = asof is None or st.toggle("Full history (research view)", key="dash_full_history",
                                     help=f"Off: bars up to the paper session's current bar ({services.format_ts(asof)}). On: every bundled bar.")
    if bars is not None and not full:
        bars = bars[bars.index <= asof]
    if bars is not None and len(bars) < 2:
        st.caption(f"No {symbol} bars up to the session clock {services.format_ts(asof)}.")
    elif bars is not None:
        window = bars.tail(250)
        last, prev = window["close"].iloc[-1], window["close"].iloc[-2]
        c1, c2, c3 = st.columns(3)
        c1.metric("Last close", f"{last:,.2f}", f"{(last / prev - 1) * 100:+.2f}%")
        c2.metric("Bars", f"{len(bars):,}")
        c3.metric("Range", f"{bars.index[0]:%Y-%m} → {bars.index[-1]:%Y-%m}")
        label = "full bundled history (research)" if asof is not None and full else (
            f"as of the session clock {services.format_ts(asof)}" if asof is not None else "no paper session yet: full bundled history")
        st.plotly_chart(candlestick(window, f"{symbol} ({timeframe}), last {len(window)} bars · {label}"), width="stretch")


prices_panel()
