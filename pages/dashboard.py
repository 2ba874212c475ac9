"""Dashboard: price of any bundled symbol (more panels land with each capability)."""

import streamlit as st

from core import services
from ui.charts import candlestick
from ui.common import guarded


@st.cache_data(ttl=300, show_spinner=False)
def _bars(symbol: str, timeframe: str):
    return services.load_bars(symbol, timeframe=timeframe)


st.title("Dashboard")
series = guarded(services.list_series, what="listing the bundled data") or []
if not series:
    st.info("No market data found. The bundled files live in data/sample/; see its README.")
    st.stop()
choices = sorted({f"{s.symbol} · {s.timeframe}" for s in series})
default = choices.index("AAPL · 1d") if "AAPL · 1d" in choices else 0
picked = st.selectbox("Symbol", choices, index=default, key="dash_symbol")
symbol, timeframe = (part.strip() for part in picked.split("·"))
bars = guarded(_bars, symbol, timeframe, what=f"loading {symbol}")
if bars is not None:
    window = bars.tail(250)
    last, prev = window["close"].iloc[-1], window["close"].iloc[-2]
    c1, c2, c3 = st.columns(3)
    c1.metric("Last close", f"{last:,.2f}", f"{(last / prev - 1) * 100:+.2f}%")
    c2.metric("Bars", f"{len(bars):,}")
    c3.metric("Range", f"{bars.index[0]:%Y-%m} → {bars.index[-1]:%Y-%m}")
    st.plotly_chart(candlestick(window, f"{symbol} ({timeframe}), last {len(window)} bars"), width="stretch")
