"""Plotly figures used by several pages (dark theme)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TEMPLATE = "plotly_dark"


def candlestick(bars: pd.DataFrame, title: str = "", volume: bool = True) -> go.Figure:
    """Return a candlestick chart with a volume panel under it."""
    rows = 2 if volume else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.03, row_heights=[0.75, 0.25] if volume else [1.0])
    fig.add_trace(
        go.Candlestick(x=bars.index, open=bars["open"], high=bars["high"], low=bars["low"], close=bars["close"], name="price"),
        row=1, col=1,
    )
    if volume:
        up = bars["close"] >= bars["open"]
        colors = ["#26a69a" if u else "#ef5350" for u in up]
        fig.add_trace(go.Bar(x=bars.index, y=bars["volume"], marker_color=colors, name="volume", showlegend=False), row=2, col=1)
    if len(bars) > 2 and (bars.index[1:] - bars.index[:-1]).min() >= pd.Timedelta("1D") and not (bars.index.dayofweek >= 5).any():
        # daily equity bars: hide weekends so candles sit side by side
        fig.update_xaxes(rangebreaks=[dict(bounds=["sat", "mon"])])
    fig.update_layout(
        template=TEMPLATE, title=title, xaxis_rangeslider_visible=False, height=560, margin=dict(l=10, r=10, t=40, b=10), showlegend=False
    )
    return fig
