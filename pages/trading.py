"""Trading: price with indicators and our fills, a manual order ticket checked by the risk engine, open orders with cancel."""

import pandas as pd
import streamlit as st

from core import services
from ui.auth import actor, signed_in_only
from ui.charts import add_overlay, candlestick, mark_points
from ui.common import context, guarded

TYPES = ["market", "limit", "stop", "stop_limit", "trailing_stop"]
QUEUED_NOTE = "queued: executes at the next bar while paper trading is on"


@st.cache_data(ttl=300, show_spinner=False)
def _bars(symbol: str) -> pd.DataFrame:
    return services.load_bars(symbol)


def _chart(ctx, symbol: str, asof, n: int):
    bars = _bars(symbol)
    if asof is not None:
        bars = bars[bars.index <= asof]
    c = st.columns(4)
    sma = c[0].toggle("SMA 20", value=True, key="tr_sma")
    ema = c[1].toggle("EMA 50", key="tr_ema")
    bb = c[2].toggle("Bollinger (20, 2σ)", key="tr_bb")
    close = bars["close"]
    window = bars.tail(n)
    fig = candlestick(window, f"{symbol} daily" + (f" up to the replay clock {asof:%Y-%m-%d}" if asof is not None else ""), volume=True)
    if sma:
        add_overlay(fig, close.rolling(20).mean().tail(n), "SMA 20", "#ffca28")
    if ema:
        add_overlay(fig, close.ewm(span=50, adjust=False).mean().tail(n), "EMA 50", "#ab47bc")
    if bb:
        mid, sd = close.rolling(20).mean(), close.rolling(20).std()
        add_overlay(fig, (mid + 2 * sd).tail(n), "Bollinger upper", "#42a5f5", "dot")
        add_overlay(fig, (mid - 2 * sd).tail(n), "Bollinger lower", "#42a5f5", "dot")
    fills = [f for f in services.list_fills("paper", ctx=ctx) if f.symbol == symbol and f.ts >= window.index[0]]
    for side, color, marker in (("buy", "#26a69a", "triangle-up"), ("sell", "#ef5350", "triangle-down")):
        pts = pd.DataFrame([{"ts": f.ts, "price": f.price, "text": f"{f.side} {f.quantity:g} @ {f.price:,.2f}"} for f in fills if f.side == side])
        mark_points(fig, pts, f"our {side} fills", color, marker)
    for o in services.list_orders(open_only=True, ctx=ctx):
        level = o.limit_price or o.stop_price
        if o.symbol == symbol and level:
            fig.add_hline(y=level, line_dash="dash", line_color="#ffca28", annotation_text=f"{o.side} {o.order_type} {o.remaining:g}", row=1, col=1)
    c[3].caption(f"{len(fills)} paper fills in view")
    st.plotly_chart(fig, width="stretch", key="tr_chart")
    return float(close.iloc[-1])


def _ticket(symbol: str, last: float) -> dict:
    c = st.columns(4)
    klass = c[0].radio("Order class", ["simple", "oco", "bracket"], horizontal=True, key="tk_class",
                       format_func={"simple": "Simple", "oco": "OCO", "bracket": "Bracket"}.get)
    side = c[1].radio("Side", ["buy", "sell"], horizontal=True, key="tk_side")
    otype = c[2].selectbox("Type", TYPES, key="tk_type", format_func=lambda t: t.replace("_", " "))
    qty = c[3].number_input("Quantity", min_value=0.0, value=10.0, step=1.0, key="tk_qty")
    spec = {"symbol": symbol, "side": side, "order_type": otype, "quantity": qty, "order_class": klass}
    p = iter(st.columns(4))  # fields fill the row from the left, whatever the order type needs
    spec["time_in_force"] = next(p).selectbox("Time in force", ["gtc", "day", "ioc", "fok"], key="tk_tif", format_func=str.upper)
    if otype in ("limit", "stop_limit"):
        spec["limit_price"] = next(p).number_input("Limit price", min_value=0.0, value=round(last, 2), key="tk_limit")
    if otype in ("stop", "stop_limit"):
        spec["stop_price"] = next(p).number_input("Stop price", min_value=0.0, value=round(last, 2), key="tk_stop")
    if otype == "trailing_stop":
        spec["trail_percent"] = next(p).number_input("Trail %", min_value=0.0, value=5.0, key="tk_trail")
    if klass == "bracket":
        b = st.columns(2)
        up, down = (1.05, 0.95) if side == "buy" else (0.95, 1.05)
        spec["take_profit"] = b[0].number_input("Take-profit (limit)", min_value=0.0, value=round(last * up, 2), key="tk_tp")
        spec["stop_loss"] = b[1].number_input("Stop-loss (stop)", min_value=0.0, value=round(last * down, 2), key="tk_sl")
    if klass == "oco":
        b = st.columns(2)
        spec["oco_limit_price"] = b[0].number_input("Second leg: limit price", min_value=0.0, value=round(last * 1.05, 2), key="tk_oco_limit")
        b[1].caption("Both legs have the same side and quantity; the first fill cancels the other.")
    return spec


def _decision(d: dict) -> None:
    action = d["action"]
    if action == "approve":
        st.success(f"Risk engine: **approve** {d['quantity']:g}", icon=":material/check_circle:")
    elif action == "shrink":
        st.warning(f"Risk engine: **shrink** {d['requested']:g} → {d['quantity']:g}. {d['reason']}", icon=":material/compress:")
    else:
        st.error(f"Risk engine: **veto**. {d['reason']}", icon=":material/block:")
    if "client_order_id" not in d and action != "veto":
        st.caption("Preview only: press **Queue order** to queue it.")
    with st.expander("Every check the engine ran"):
        st.markdown("\n".join(f"- {c}" for c in d["checks"]) or "—")


@signed_in_only  # a callback runs before app.py's sign-in gate
def _cancel(cid: str) -> None:
    out = guarded(services.request_cancel, cid, actor=actor(), ctx=context(), what="the cancel")
    if out is not None:
        st.toast(f"{cid}: " + ("removed from the queue" if out["status"] == "removed" else "cancel queued, the loop sends it at the next bar"))


def _open_orders(ctx) -> None:
    rows = services.open_order_rows(ctx)
    if not rows:
        st.caption("No open or queued orders.")
    else:
        widths = [2.6, 1.8, 1, 0.8, 1.1, 1.2, 1.3, 3, 1.6]
        head = st.columns(widths)
        for col, name in zip(head, ["Order", "State", "Symbol", "Side", "Type", "Class", "Quantity", "Prices", ""], strict=True):
            col.markdown(f"**{name}**")
        for row in rows:
            c = st.columns(widths, vertical_alignment="center")
            c[0].caption(row["id"])
            for col, key in zip(c[1:7], ["state", "symbol", "side", "type", "class", "quantity"], strict=True):
                col.write(f"{row[key]:,.6g}" if key == "quantity" else row[key])
            c[7].write(row["prices"])
            cancelling = "cancel requested" in row["state"]
            c[8].button("Cancel", key=f"tr_cancel_{row['id']}", icon=":material/cancel:", on_click=_cancel, args=(row["id"],), disabled=cancelling,
                        help="Cancel this order" if not cancelling else "The cancel is queued for the next bar")
    gone = services.cancelled_manual_orders(ctx)[:5]
    if gone:
        st.caption("Cancelled by the loop without sending: " + "; ".join(f"{g['client_order_id']} ({g['reason']})" for g in gone))


def _fills(ctx) -> None:
    st.subheader("Fills (newest first)")
    fills = services.fill_rows(ctx=ctx)
    if not fills:
        st.caption("No fills yet.")
        return
    frame = pd.DataFrame(fills)
    frame["time"] = [services.format_ts(t) for t in frame["time"]]
    st.dataframe(frame, hide_index=True, width="stretch", height=min(38 + 35 * len(frame), 320),
                 column_config={"price": st.column_config.NumberColumn(format="%,.2f"), "fee": st.column_config.NumberColumn(format="%,.2f"),
                                "quantity": st.column_config.NumberColumn(format="%,.6g")})


st.title("Trading")
ctx = context()
symbols = services.list_symbols("1d")
top = st.columns([1, 3])
symbol = top[0].selectbox("Symbol", symbols, index=symbols.index("AAPL") if "AAPL" in symbols else 0, key="tr_symbol")
n = top[1].select_slider("Bars shown", options=[60, 120, 250, 500], value=120, key="tr_n")
asof = services.paper_asof(ctx=ctx)
last = guarded(_chart, ctx, symbol, asof, n, what=f"charting {symbol}") or 0.0

st.subheader("Order ticket")
st.caption(f"Every ticket is checked by the risk engine against the paper book (last {symbol} close {last:,.2f}). "
           "Approved or shrunk tickets are queued for the trading loop; nothing is sent from this page.")
spec = _ticket(symbol, last)
b1, b2, _ = st.columns([1, 1, 3])
if b1.button("Preview risk decision", key="tk_preview", icon=":material/policy:"):
    dec = guarded(services.preview_order, spec, actor=actor(), ctx=ctx, what="the risk preview")
    if dec is not None:
        st.session_state["tk_last"] = {"action": str(dec.action), "quantity": dec.quantity, "requested": spec["quantity"], "reason": dec.reason,
                                       "checks": list(dec.checks)}
if b2.button("Queue order", type="primary", key="tk_submit", icon=":material/send:"):
    res = guarded(services.queue_manual_order, spec, actor=actor(), ctx=ctx, what="queueing the order")
    if res is not None:
        st.session_state["tk_last"] = {**res, "requested": res["requested_quantity"]}
last_decision = st.session_state.get("tk_last")
if last_decision:
    _decision(last_decision)
    if last_decision.get("queued"):
        st.info(f"**{last_decision['client_order_id']}** {QUEUED_NOTE}.", icon=":material/schedule:")
        if not services.paper_status(ctx)["enabled"]:
            st.caption(":orange[Paper trading is off: switch it on in the sidebar for the loop to send queued orders.]")

st.subheader("Open orders")
_open_orders(ctx)
_fills(ctx)
