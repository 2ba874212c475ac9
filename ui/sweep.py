"""The Backtest page's parameter sweep: a grid over two parameters on Dask, with the deflated Sharpe ratio and the PBO."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import services
from core.services import format_pct as pct
from ui.charts import _layout, heatmap
from ui.common import background_result, start_in_background

METRICS = {"Sharpe": "sharpe", "Return %": "return_pct", "CAGR %": "cagr_pct", "Max drawdown %": "max_drawdown_pct", "Calmar": "calmar",
           "Win rate %": "win_rate_pct", "Trades": "trades"}


def _values(text: str, kind: type) -> list:
    return [kind(float(v)) for v in text.split(",") if v.strip()]


def rank_plot(pbo: dict) -> go.Figure:
    """Return the in-sample vs out-of-sample rank scatter of every trial (first half of the data vs second half)."""
    fig = go.Figure(go.Scatter(x=pbo["rank_is"], y=pbo["rank_oos"], mode="markers", marker=dict(size=7, opacity=0.7), name="trials",
                               hovertemplate="in-sample rank %{x:.2f}<br>out-of-sample rank %{y:.2f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#888"), name="ranks kept"))
    return _layout(fig, "In-sample vs out-of-sample rank (1 = best; on the diagonal a rank holds up)", height=380,
                   xaxis_title="in-sample rank (first half)", yaxis_title="out-of-sample rank (second half)")


def _grid(defaults: dict, px: str, py: str, xs: str, ys: str) -> dict | None:
    """Parse the grid of the two chosen parameters; None (with the error shown) on bad values."""
    try:
        return {px: _values(xs, type(defaults[px])), py: _values(ys, type(defaults[py]))}
    except ValueError:
        st.error("Sweep values must be comma-separated numbers, e.g. 5, 10, 20")
        return None


def _on_cluster(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``fn`` (the sweep or the walk-forward) on the process-wide research cluster, started on first use (a task's body)."""
    return fn(*args, executor=services.shared_research_executor(), **kwargs)


def render(strategy: str, defaults: dict, frames: dict, params: dict, *, cash: float, commission: float, slippage: float, size: float,
           risk: str, volume_share: float = 0.0) -> None:
    """Draw the sweep inputs, run a sweep on the research executor, and show its trials, DSR, PBO and warnings.

    Every trial uses the page's costs (commission, slippage, volume cap) and risk mode, as the single backtest above.
    """
    numeric = [k for k, v in defaults.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numeric) < 2:
        st.caption("A sweep needs a strategy with two numeric parameters (e.g. sma_cross fast × slow).")
        return
    s1, s2, s3, s4, s5 = st.columns([1, 1, 1.3, 1.3, 1])
    px = s1.selectbox("Rows", numeric, index=0, key="sw_x")
    py = s2.selectbox("Columns", [n for n in numeric if n != px], key="sw_y")
    xs = s3.text_input(f"{px} values", "5, 10, 20, 30", key="sw_xs")
    ys = s4.text_input(f"{py} values", "20, 50, 100, 150", key="sw_ys")
    sample = s5.number_input("Random sets (0 = all)", value=0, min_value=0, step=10, key="sw_random")
    st.caption(f"Every parameter set × symbol ({', '.join(frames)}) is a risk-checked backtest run on the research cluster; trials are "
               "stored, and the same sweep resumes where it stopped. Invalid combinations (e.g. fast ≥ slow) are skipped and counted.")
    if st.button("Run sweep", key="sw_run", icon=":material/grid_on:", help="Runs in the background on the research cluster: the page stays usable."):
        grid = _grid(defaults, px, py, xs, ys)
        if grid is None:
            return
        fixed = {k: v for k, v in params.items() if k not in grid}
        st.session_state.pop("sw_result", None)
        st.session_state["sw_axes"] = (px, py)
        start_in_background("sw_task", _on_cluster, services.sweep, strategy, list(frames), grid, frames=frames, params=fixed, random=int(sample) or None,
                            cash=cash, commission=commission, slippage_bps=slippage, max_volume_share=volume_share, size=size, risk=risk,
                            what="the sweep", progress_arg="progress", counts=True)  # fmt: skip
    result = background_result("sw_task", "the sweep (trials done)")
    if result:
        st.session_state["sw_result"] = (result, *st.session_state.get("sw_axes", (px, py)))
    stored = st.session_state.get("sw_result")
    if stored is not None:
        _show(*stored)
    _walk_forward(strategy, defaults, frames, params, px, py, xs, ys, sample, cash=cash, commission=commission, slippage=slippage,
                  volume_share=volume_share, size=size, risk=risk)


def _walk_forward(strategy: str, defaults: dict, frames: dict, params: dict, px: str, py: str, xs: str, ys: str, sample: int, *,
                  cash: float, commission: float, slippage: float, volume_share: float, size: float, risk: str) -> None:
    """Walk-forward optimisation over the same grid: choose on each training window, trade the next; only the stitched out-of-sample result."""
    st.markdown("**Walk-forward optimisation**")
    st.caption("Each symbol's bars are cut into windows + 1 chunks: the grid's best Sharpe on the training part picks the parameters the next "
               "chunk trades. Only those out-of-sample chunks are shown, stitched — the in-sample best of a sweep is never the result.")  # fmt: skip
    w1, w2, w3 = st.columns([1, 1, 2])
    windows = int(w1.number_input("Windows", value=4, min_value=1, max_value=20, step=1, key="wf_windows"))
    anchored = w2.checkbox("Anchored (expanding) training", value=False, key="wf_anchored")
    if w3.button("Run walk-forward", key="wf_run", icon=":material/timeline:", help="Runs in the background on the research cluster."):
        grid = _grid(defaults, px, py, xs, ys)
        if grid is None:
            return
        st.session_state.pop("wf_result", None)
        start_in_background("wf_task", _on_cluster, services.walk_forward, strategy, list(frames), grid, frames=frames,
                            params={k: v for k, v in params.items() if k not in grid}, windows=windows, anchored=anchored, random=int(sample) or None,
                            cash=cash, commission=commission, slippage_bps=slippage, max_volume_share=volume_share, size=size, risk=risk,
                            what="the walk-forward optimisation", progress_arg="progress", counts=True)  # fmt: skip
    done = background_result("wf_task", "the walk-forward optimisation (backtests done)")
    if done:
        st.session_state["wf_result"] = done
    result = st.session_state.get("wf_result")
    if result is None:
        return
    m = result.metrics.get("portfolio") or {}
    c = st.columns(4)
    for col, (label, key, fmt) in zip(c, [("Out-of-sample return", "return_pct", "{:+.2f}%"), ("CAGR", "cagr_pct", "{:+.2f}%"),
                                          ("Sharpe (annualised)", "sharpe", "{:.2f}"), ("Max drawdown", "max_drawdown_pct", "{:.2f}%")], strict=True):
        col.metric(label + " (stitched)", "—" if m.get(key) is None else fmt.format(m[key]))
    fig = go.Figure([go.Scatter(x=result.equity.index, y=result.equity[col], name=col, line=dict(width=3 if col == "portfolio" else 1.5))
                     for col in result.equity.columns])
    st.plotly_chart(_layout(fig, "Stitched out-of-sample equity (equal weight over the symbols)", height=360), width="stretch", key="wf_equity")
    table = result.windows.copy()
    for col in ("train_start", "test_start", "test_end"):
        table[col] = [services.format_ts(v) for v in table[col]]
    table["params"] = [", ".join(f"{k}={v}" for k, v in p.items() if k in (px, py)) for p in table["params"]]
    st.dataframe(table.round(3), hide_index=True, width="stretch", key="wf_table")
    if result.n_skipped:
        st.caption(f"{result.n_skipped} invalid combinations skipped.")


@st.fragment
def _heat(table: pd.DataFrame, px: str, py: str) -> None:
    """The heatmap and its colour-by choice (a fragment: changing the metric redraws only this chart)."""
    label = st.selectbox("Colour by", list(METRICS), key="sw_metric")
    metric = METRICS[label]
    cx, cy = f"p_{px}", f"p_{py}"
    if metric in table and cx in table and cy in table:
        pivot = table.pivot_table(index=cx, columns=cy, values=metric, dropna=False).rename_axis(index=px, columns=py)
        title = f"{label} by {px} × {py}" + (" (mean over symbols)" if table["symbol"].nunique() > 1 else "") + " (blank: invalid combination)"
        st.plotly_chart(heatmap(pivot, title, x_title=py, y_title=px, zmid=None if metric in ("trades",) else 0.0), width="stretch", key="sw_heat")


def _show(result, px: str, py: str) -> None:
    s, table = result.summary, result.trials
    st.caption(f"Sweep `{result.sweep_id}` · {result.ran} trials run now, {result.reused} stored before · {s['n_skipped']} invalid "
               f"combinations skipped · {s['n_failed']} failed")
    if not s["best"]:
        st.warning(" ".join(s["warnings"]) or "No trial produced results.")
        return
    d, p, best = s["dsr"], s["pbo"] or {}, s["best"]
    m = st.columns(5)
    m[0].metric("Trials", f"{s['n_trials']:,}")
    m[1].metric("Best Sharpe", f"{d['sharpe_annual']:.2f}", help=f"{best['symbol']} {best['params']}")
    m[2].metric("Luck alone gives", f"{d['expected_max_sharpe_annual']:.2f}", help="Expected best Sharpe ratio of this many skill-less trials")
    m[3].metric("Deflated Sharpe", f"{d['dsr']:.2f}", help="Probability that the best trial's edge is more than selection luck (Bailey & López de Prado)")
    m[4].metric("PBO", "—" if p.get("pbo") is None else pct(p['pbo'], 0),
                help=p.get("reason") or "Probability of backtest overfitting (CSCV): how often the in-sample best is below the median out of sample")
    for w in s["warnings"]:
        st.warning(w)
    if not s["warnings"]:
        st.success(f"The best trial ({best['symbol']} {best['params']}) survives the deflated Sharpe ratio and the overfitting check.")
    _heat(table, px, py)
    if p.get("rank_is"):
        st.plotly_chart(rank_plot(p), width="stretch", key="sw_ranks")
    shown = table.sort_values("sharpe", ascending=False).head(500).rename(columns=lambda c: c[2:] if c.startswith("p_") else c)
    keep = [c for c in ["symbol", px, py, *[c for c in shown.columns if c not in (px, py)]] if c in shown]
    st.dataframe(shown[list(dict.fromkeys(keep))].drop(columns=["path", "periods_per_year", "error"], errors="ignore"), width="stretch", height=360,
                 hide_index=True, key="sw_table")
    st.download_button("Download trials (CSV)", pd.DataFrame(shown).to_csv(index=False), file_name=f"{result.sweep_id}.csv", key="sw_csv")
