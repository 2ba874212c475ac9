"""News: the headline feed with sentiment and symbols, and sentiment over time beside the price."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core import services
from ui.charts import naive
from ui.common import context, guarded

COLORS = {"positive": "#26a69a", "neutral": "#90a4ae", "negative": "#ef5350"}


@st.cache_data(ttl=60, show_spinner=False)
def _feed(symbol: str | None) -> pd.DataFrame:
    items = services.list_news(symbol=symbol, limit=None)
    return pd.DataFrame([{"published": i.published, "title": i.title, "symbols": ", ".join(i.symbols) or "—", "sentiment": i.sentiment,
                          "label": i.label or "unscored", "source": i.source, "url": i.url or ""} for i in items],
                        columns=["published", "title", "symbols", "sentiment", "label", "source", "url"])


@st.cache_data(ttl=60, show_spinner=False)
def _series(symbol: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    bars = services.load_bars(symbol)
    return bars, services.news_features(bars.index, symbol)


def _sentiment_chart(symbol: str, feed: pd.DataFrame, asof: pd.Timestamp | None = None) -> go.Figure | None:
    bars, feats = _series(symbol)
    if asof is not None:  # the session's view: nothing after its current bar
        bars, feats = bars[bars.index <= asof], feats[feats.index <= asof]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.62, 0.38],
                        subplot_titles=(f"{symbol} close with headlines", "Sentiment (decayed, half-life 3 days) and headline scores"))
    fig.add_trace(go.Scatter(x=naive(bars.index), y=bars["close"], mode="lines", name="close", line=dict(color="#b0bec5", width=1)), row=1, col=1)
    feed = feed[(feed["published"] >= bars.index[0]) & (feed["published"] <= bars.index[-1] + pd.Timedelta(days=1))]
    if len(feed):
        colors = [COLORS.get(lbl, "#90a4ae") for lbl in feed["label"]]
        at = bars["close"].reindex(feed["published"].dt.tz_convert("UTC").dt.normalize(), method="ffill").to_numpy()
        fig.add_trace(go.Scatter(x=naive(feed["published"]), y=at, mode="markers", name="headline", text=feed["title"], hovertemplate="%{text}<extra></extra>",
                                 marker=dict(size=9, color=colors, line=dict(width=1, color="white"))),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=naive(feed["published"]), y=feed["sentiment"], mode="markers", name="headline score", text=feed["title"],
                                 hovertemplate="%{text}: %{y:+.2f}<extra></extra>", marker=dict(size=7, color=colors, symbol="diamond")),
                      row=2, col=1)
    fig.add_trace(go.Scatter(x=naive(feats.index), y=feats["news_sentiment_ewm"], mode="lines", name="decayed sentiment",
                             line=dict(color="#ffca28")), row=2, col=1)
    fig.update_yaxes(range=[-1.05, 1.05], row=2, col=1)
    fig.update_layout(height=560, margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", yanchor="bottom", y=1.04, x=0))
    return fig


st.title("News")
ctx = context()
count = guarded(services.ensure_news, ctx, what="loading the bundled headlines") or 0
top = st.columns([2, 2, 2, 1])
symbols = services.list_symbols("1d")
choice = top[0].selectbox("Symbol", ["All symbols", *symbols], key="news_symbol")
symbol = None if choice == "All symbols" else choice
labels = top[1].multiselect("Sentiment", ["positive", "neutral", "negative"], key="news_labels")
query = top[2].text_input("Search headlines", key="news_query", placeholder="e.g. earnings")
if top[3].button("Fetch", key="news_fetch", icon=":material/refresh:", help="Fetch from the bundled file and every configured source"):
    rep = guarded(services.fetch_news, ctx=ctx, what="fetching news")
    if rep is not None:
        _feed.clear()
        _series.clear()
        st.toast(f"{rep.inserted} new, {rep.updated} updated headlines")
        for err in rep.errors:
            st.warning(err)
feed = guarded(_feed, symbol, what="listing the news")
if feed is None or feed.empty:
    st.info("No headlines stored yet. Press **Fetch** to load the bundled headlines and any configured sources.")
    st.stop()
asof = services.paper_asof(ctx=ctx)
full = asof is None or st.toggle("Full history (research view)", key="news_full_history",
                                 help="Off: only headlines published up to the end of the paper session's current bar. On: every stored headline.")
if not full:
    feed = feed[feed["published"] < asof + pd.Timedelta(days=1)]
    st.caption(f"Headlines up to the session clock {services.format_ts(asof)} (newest first).")
shown = feed
if labels:
    shown = shown[shown["label"].isin(labels)]
if query:
    shown = shown[shown["title"].str.contains(query, case=False, regex=False)]
m = st.columns(4)
m[0].metric("Headlines", f"{len(shown):,}", help=f"{count:,} stored in total")
m[1].metric("Mean sentiment", f"{shown['sentiment'].mean():+.2f}" if shown["sentiment"].notna().any() else "—")
for col, lbl in zip(m[2:], ("positive", "negative"), strict=True):
    col.metric(lbl.capitalize(), f"{(shown['label'] == lbl).sum():,}")
st.dataframe(
    shown, width="stretch", hide_index=True, height=360,
    column_config={
        "published": st.column_config.DatetimeColumn("Published (UTC)", format="YYYY-MM-DD HH:mm"),
        "title": st.column_config.TextColumn("Headline", width="large"),
        "sentiment": st.column_config.ProgressColumn("Sentiment", min_value=-1.0, max_value=1.0, format="%+.2f"),
        "url": st.column_config.LinkColumn("Link", display_text="open"),
    },
)
st.subheader("Sentiment over time beside the price")
chart_symbol = symbol or st.selectbox("Chart symbol", symbols, index=symbols.index("AAPL") if "AAPL" in symbols else 0, key="news_chart_symbol")
chart_feed = shown if symbol else guarded(_feed, chart_symbol, what="listing the news")
if chart_feed is not None and not full:
    chart_feed = chart_feed[chart_feed["published"] < asof + pd.Timedelta(days=1)]
fig = guarded(_sentiment_chart, chart_symbol, chart_feed if chart_feed is not None else feed.iloc[:0], None if full else asof,
              what="the sentiment chart")
if fig is not None:
    st.plotly_chart(fig, width="stretch", key="news_chart")
    st.caption("The decayed sentiment at a bar uses only headlines published before that bar opened (no look-ahead); it feeds the models.")
