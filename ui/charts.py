"""Plotly figures used by several pages (dark theme)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.services.status import format_pct

# No template is passed to the figures: Streamlit's own ("streamlit", plotly's default once streamlit is imported)
# follows the app's dark theme in the browser. Passing template="plotly_dark" cost ~12 ms per figure (plotly
# validates and deep-copies the whole template on every update_layout): ~40 % of a Risk page rerun (issue 15 goal 3).


def naive(x: Any) -> Any:
    """Return datetimes as naive UTC for plotly: the same axis, ~50x faster than tz-aware ones.

    Plotly turns tz-aware datetimes into object arrays of Timestamps, which it then deep-copies and
    serialises one by one (~1 s for five 3,000-point lines, a large part of a page's load).
    """
    tz = getattr(getattr(x, "dt", x), "tz", None)
    if tz is None:
        return x
    return x.dt.tz_convert("UTC").dt.tz_localize(None) if hasattr(x, "dt") else x.tz_convert("UTC").tz_localize(None)


def candlestick(bars: pd.DataFrame, title: str = "", volume: bool = True) -> go.Figure:
    """Return a candlestick chart with a volume panel under it."""
    rows = 2 if volume else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.03, row_heights=[0.75, 0.25] if volume else [1.0])
    fig.add_trace(
        go.Candlestick(x=naive(bars.index), open=bars["open"], high=bars["high"], low=bars["low"], close=bars["close"], name="price"),
        row=1, col=1,
    )
    if volume:
        up = bars["close"] >= bars["open"]
        colors = ["#26a69a" if u else "#ef5350" for u in up]
        fig.add_trace(go.Bar(x=naive(bars.index), y=bars["volume"], marker_color=colors, name="volume", showlegend=False), row=2, col=1)
    if len(bars) > 2 and (bars.index[1:] - bars.index[:-1]).min() >= pd.Timedelta("1D") and not (bars.index.dayofweek >= 5).any():
        # daily equity bars: hide weekends so candles sit side by side
        fig.update_xaxes(rangebreaks=[dict(bounds=["sat", "mon"])])
    fig.update_layout(
        title=title, xaxis_rangeslider_visible=False, height=560, margin=dict(l=10, r=10, t=40, b=10), showlegend=False,
        legend=dict(orientation="h", yanchor="top", y=-0.1, xanchor="left", x=0),
    )
    return fig


def _layout(fig: go.Figure, title: str = "", height: int = 360, **kw) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0), **kw)
    return fig


def lines(series: dict[str, pd.Series], title: str = "", height: int = 360, yaxis_title: str = "", percent: bool = False) -> go.Figure:
    """Return one line per named series on a shared time axis."""
    fig = go.Figure()
    for name, s in series.items():
        fig.add_trace(go.Scatter(x=naive(s.index), y=s.values, mode="lines", name=name))
    _layout(fig, title, height, yaxis_title=yaxis_title)
    if percent:
        fig.update_yaxes(tickformat=".1%")
    return fig


def drawdown(equity: pd.Series, title: str = "Drawdown", height: int = 220) -> go.Figure:
    """Return the underwater curve of ``equity`` (fraction below the running peak) as a filled area."""
    dd = equity / equity.cummax() - 1.0
    fig = go.Figure(go.Scatter(x=naive(dd.index), y=dd.values, fill="tozeroy", mode="lines", line=dict(color="#ef5350"), name="drawdown"))
    _layout(fig, title, height, showlegend=False)
    fig.update_yaxes(tickformat=".0%")
    return fig


def mark_trades(fig: go.Figure, trades: pd.DataFrame) -> go.Figure:
    """Add entry (triangle) and exit (x) markers of closed trades to a candlestick figure's price panel."""
    if trades is None or trades.empty:
        return fig
    long = trades["quantity"] > 0
    for mask, name, color, symbol in ((long, "long entry", "#26a69a", "triangle-up"), (~long, "short entry", "#ef5350", "triangle-down")):
        t = trades[mask]
        if len(t):
            fig.add_trace(go.Scatter(x=naive(t["entry_ts"]), y=t["entry_price"], mode="markers", name=name,
                                     marker=dict(symbol=symbol, size=11, color=color, line=dict(width=1, color="white"))), row=1, col=1)
    fig.add_trace(go.Scatter(x=naive(trades["exit_ts"]), y=trades["exit_price"], mode="markers", name="exit",
                             marker=dict(symbol="x", size=8, color="#ffca28")), row=1, col=1)
    fig.update_layout(showlegend=True, legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0))
    return fig


def mark_points(fig: go.Figure, points: pd.DataFrame, name: str, color: str, symbol: str = "circle") -> go.Figure:
    """Add markers at ``points`` (columns ``ts``, ``price``, optional ``text``) to a candlestick's price panel."""
    if points is None or points.empty:
        return fig
    fig.add_trace(go.Scatter(x=naive(points["ts"]), y=points["price"], mode="markers", name=name, text=points.get("text"),
                             marker=dict(symbol=symbol, size=11, color=color, line=dict(width=1, color="white"))), row=1, col=1)
    fig.update_layout(showlegend=True, legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0))
    return fig


def heatmap(frame: pd.DataFrame, title: str = "", fmt: str = ".2f", height: int = 420, colorscale: str = "RdYlGn", zmid: float | None = 0.0,
            x_title: str = "", y_title: str = "") -> go.Figure:
    """Return an annotated heatmap of ``frame`` (rows on y, columns on x)."""
    # format the cell labels here: plotly prints "NaN" for empty cells
    text = [["" if pd.isna(v) else format(v, fmt) for v in row] for row in frame.to_numpy(dtype=float)]
    fig = go.Figure(go.Heatmap(z=frame.values, x=[str(c) for c in frame.columns], y=[str(i) for i in frame.index], colorscale=colorscale, zmid=zmid,
                               text=text, texttemplate="%{text}", hoverongaps=False, colorbar=dict(tickformat=".0%" if "%" in fmt else None)))
    _layout(fig, title, height, xaxis_title=x_title, yaxis_title=y_title)
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def pie(values: pd.Series, title: str = "", height: int = 340) -> go.Figure:
    """Return a donut chart of ``values`` (index = labels).

    Labels sit inside the slices and a slice too small for its label shows none (labels outside collided with the title);
    the legend names every slice.
    """
    fig = go.Figure(go.Pie(labels=list(values.index), values=values.values, hole=0.45, textinfo="label+percent", textposition="inside",
                           insidetextorientation="horizontal"))
    return _layout(fig, title, height, showlegend=True, uniformtext=dict(minsize=10, mode="hide"))


def bars(values: pd.Series, title: str = "", height: int = 300, percent: bool = False, color: str = "#42a5f5") -> go.Figure:
    """Return a bar chart of ``values`` (index = categories)."""
    fig = go.Figure(go.Bar(x=[str(i) for i in values.index], y=values.values, marker_color=color,
                           text=[format_pct(v) if percent else f"{v:,.2f}" for v in values.values], textposition="outside"))
    _layout(fig, title, height, showlegend=False)
    if percent:
        fig.update_yaxes(tickformat=".1%")
    return fig


def add_overlay(fig: go.Figure, series: pd.Series, name: str, color: str, dash: str | None = None) -> go.Figure:
    """Add an indicator line to a candlestick figure's price panel."""
    fig.add_trace(go.Scatter(x=naive(series.index), y=series.values, mode="lines", name=name, line=dict(color=color, width=1.3, dash=dash)), row=1, col=1)
    fig.update_layout(showlegend=True, legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0))
    return fig
