"""The Dashboard's "Live vs backtest" panel: both equity curves, the match rate and the divergences."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import services
from ui.auth import actor
from ui.charts import naive
from ui.common import background_result, context, guarded, start_in_background


def live_vs_backtest_panel() -> None:
    """Render the last stored diff of the paper session, with a button to re-run it now."""
    st.subheader("Live vs backtest")
    ctx = context()
    if st.button("Run the diff now", key="dash_diff_run", help="Re-run the backtest over the bars the session processed and compare (in the background)"):
        start_in_background("dash_diff_task", services.session_diff, actor=actor(), ctx=ctx, what="the live-vs-backtest diff")
    key = st.session_state.get("dash_diff_task")
    task = services.task(key) if key else None
    if task is not None and task.state == "failed" and isinstance(task.error, services.NoSession):
        st.info(str(task.error))
        return
    background_result("dash_diff_task", "the live-vs-backtest diff")  # its progress while it runs; the stored diff is read below
    out = guarded(services.diff_status, ctx=ctx, what="reading the backtest-vs-live diff")
    if not out:
        st.caption("No diff yet: it runs on schedule (scheduler.diff_minutes) once the paper session has processed bars, or press the button.")
        return
    c = st.columns(4)
    c[0].metric("Orders matching", f"{out['match_pct']:.1f}%", f"{out['matched']} of {max(out['orders_live'], out['orders_backtest'])}",
                delta_color="off", delta_arrow="off")
    c[1].metric("P&L live − backtest", f"{out['pnl_diff']:+,.2f}")
    c[2].metric("Divergences", f"{out['n_divergences']}")
    c[3].metric("Bars compared", f"{out['bars']}", f"to {out['last_bar'][:10]}", delta_color="off", delta_arrow="off")
    if out.get("signals"):
        st.caption(f"Model signals compared: {out['signals_matched']} of {out['signals']} (symbol, bar) match the backtest's p(up) and direction.")
    if out["gap_pct"] > out["threshold_pct"]:
        st.warning(f"Gap {out['gap_pct']:.1f}% is above the alert threshold {out['threshold_pct']:g}% (trading.diff_alert_pct).")
    eq = out["equity"]
    fig = go.Figure([go.Scatter(x=naive(pd.to_datetime(eq["ts"])), y=eq["live"], name="live (session)", line=dict(color="#26a69a")),
                     go.Scatter(x=naive(pd.to_datetime(eq["backtest_ts"])), y=eq["backtest"], name="backtest", line=dict(color="#7e57c2", dash="dot"))])
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10), title="Equity: session vs its backtest")
    st.plotly_chart(fig, width="stretch")
    first = out["first_divergence"]
    if first is None:
        st.success("No divergence: the session did exactly what its backtest does.")
        return
    st.markdown(f"**First divergence** {first['ts'][:19]}: {first['label']} — {first['detail']}")
    rows = pd.DataFrame(out["divergences"])[["ts", "label", "client_order_id", "detail"]].rename(columns={"label": "cause", "client_order_id": "order"})
    st.dataframe(rows, hide_index=True, width="stretch", key="dash_diff_table")
