"""Backtest: strategy, symbols or an uploaded CSV, parameters, costs; results, trades on the chart, a parameter sweep."""

import pandas as pd
import streamlit as st

from core import services
from ui.charts import candlestick, drawdown, heatmap, lines, mark_trades
from ui.common import guarded

CHOICES = {"mode": ["long_short", "long_flat"]}  # string parameters with a known set of values
STATS = [("Return", "return_pct", "{:+.2f} %"), ("Buy & hold", "buy_and_hold_return_pct", "{:+.2f} %"), ("CAGR", "cagr_pct", "{:+.2f} %"),
         ("Sharpe", "sharpe", "{:.2f}"), ("Sortino", "sortino", "{:.2f}"), ("Calmar", "calmar", "{:.2f}"),
         ("Max drawdown", "max_drawdown_pct", "{:.2f} %"), ("Volatility (ann.)", "volatility_pct", "{:.2f} %"), ("Exposure", "exposure_pct", "{:.1f} %"),
         ("Trades", "trades", "{:,.0f}"), ("Win rate", "win_rate_pct", "{:.1f} %"), ("Profit factor", "profit_factor", "{:.2f}"),
         ("Expectancy", "expectancy", "{:,.2f}"), ("Best trade", "best_trade_pct", "{:+.2f} %"), ("Worst trade", "worst_trade_pct", "{:+.2f} %"),
         ("Fees paid", "fees", "{:,.2f}"), ("Final equity", "final_equity", "{:,.2f}"), ("Bars", "bars", "{:,.0f}")]
METRICS = {"Sharpe": "sharpe", "Return %": "return_pct", "CAGR %": "cagr_pct", "Max drawdown %": "max_drawdown_pct", "Calmar": "calmar",
           "Win rate %": "win_rate_pct", "Trades": "trades"}


def _fmt(value, pattern: str) -> str:
    return "—" if value is None or pd.isna(value) else pattern.format(value)


def _param_inputs(defaults: dict, prefix: str) -> dict:
    out = {}
    cols = st.columns(max(len(defaults), 1))
    for col, (name, default) in zip(cols, defaults.items(), strict=False):
        key = f"{prefix}_{name}"
        if isinstance(default, bool):
            out[name] = col.checkbox(name, value=default, key=key)
        elif isinstance(default, int):
            out[name] = int(col.number_input(name, value=default, min_value=1, step=1, key=key))
        elif isinstance(default, float):
            out[name] = col.number_input(name, value=default, key=key, format="%.4f")
        elif name in CHOICES:
            out[name] = col.selectbox(name, CHOICES[name], index=CHOICES[name].index(default), key=key)
        else:
            out[name] = col.text_input(name, value=str(default), key=key)
    return out


st.title("Backtest")
strategies = guarded(services.list_strategies, what="listing the strategies") or {}
symbols = guarded(services.list_symbols, "1d", what="listing the bundled symbols") or []
left, right = st.columns([1, 1])
strategy = left.selectbox("Strategy", list(strategies), index=list(strategies).index("sma_cross") if "sma_cross" in strategies else 0, key="bt_strategy")
source = right.radio("Data", ["Bundled symbols", "Upload CSV"], horizontal=True, key="bt_source")
upload = None
if source == "Bundled symbols":
    picked = right.multiselect("Symbols (several = one portfolio, equal weights)", symbols, default=["AAPL"] if "AAPL" in symbols else symbols[:1],
                               key="bt_symbols")
else:
    upload = right.file_uploader("CSV with ts/date, open, high, low, close, volume", type=["csv"], key="bt_upload")
    picked = []
st.caption("Parameters")
params = _param_inputs(strategies.get(strategy, {}), f"bt_p_{strategy}") if strategies.get(strategy) else {}
if not strategies.get(strategy):
    st.caption("This strategy has no parameters.")
c1, c2, c3, c4 = st.columns(4)
cash = c1.number_input("Starting cash", value=10_000.0, min_value=100.0, step=1_000.0, key="bt_cash")
commission = c2.number_input("Commission (% of notional per fill)", value=0.1, min_value=0.0, max_value=5.0, step=0.05, key="bt_commission") / 100
slippage = c3.number_input("Slippage (bps per market fill)", value=0.0, min_value=0.0, max_value=500.0, step=1.0, key="bt_slippage")
size = c4.number_input("Size (fraction of equity per entry, before the risk caps)", value=1.0, min_value=0.01, max_value=1.0, step=0.05, key="bt_size")
risk_mode = st.radio("Risk limits", ["configured", "permissive"], horizontal=True, key="bt_risk",
                     help="Every order passes the risk engine. 'configured' uses the limits in force (Settings page); "
                          "'permissive' keeps the engine on with limits that never bind, to compare with all-in backtests elsewhere.")


def _frames():
    if upload is not None:
        return {upload.name.rsplit(".", 1)[0].upper(): services.bars_from_csv(upload.getvalue(), upload.name)}
    return services.lab_frames(picked)


if st.button("Run backtest", type="primary", key="bt_run", icon=":material/play_arrow:"):
    with st.status("Running the backtest…", expanded=False) as status:
        status.update(label="Loading bars…")
        frames = guarded(_frames, what="loading the data")
        if frames:
            status.update(label=f"Simulating {strategy} on {', '.join(frames)}…")
            result = guarded(services.lab_backtest, frames, strategy, params, cash=cash, commission=commission, slippage_bps=slippage, size=size,
                             risk=risk_mode, what="the backtest")
            if result is not None:
                st.session_state["bt_result"] = (result, frames, cash)
                status.update(label=f"Done: {result.report['bars']:,} bars, {result.report['trades']:,} trades ({result.path} path)", state="complete")
        if not frames or "bt_result" not in st.session_state:
            status.update(label="Backtest failed", state="error")

res = st.session_state.get("bt_result")
if res is None:
    st.info("Pick a strategy and symbols, then press **Run backtest**.")
    st.stop()
result, frames, run_cash = res
rep = result.report
st.subheader(f"{rep['strategy']} on {', '.join(rep['symbols'])} · {rep['start'][:10]} → {rep['end'][:10]}")
for w in rep.get("warnings", []):
    st.warning(w)
m = st.columns(5)
for col, (label, key, pattern) in zip(m, [*STATS[:4], STATS[6]], strict=True):
    col.metric(label, _fmt(rep.get(key), pattern))
changes = rep.get("risk_changes") or {}
if changes.get("shrink") or changes.get("veto"):
    by = "; ".join(f"{n:,} {action.replace('shrink', 'shrunk').replace('veto', 'vetoed')}: {reason}"
                   for (action, reason), n in sorted(changes["reasons"].items(), key=lambda kv: -kv[1])[:4])
    st.warning(f"The risk engine changed this run: {changes['shrink']:,} orders shrunk and {changes['veto']:,} vetoed by the "
               f"{'configured' if rep.get('risk') == 'configured' else 'permissive'} limits ({by}).", icon=":material/shield:")
    if rep.get("risk") == "configured" and st.button("Compare without caps", key="bt_uncapped", icon=":material/compare_arrows:",
                                                     help="The same run with the risk engine on but limits that never bind"):
        free = guarded(services.lab_backtest, frames, rep["strategy"], rep["params"], cash=run_cash, commission=commission, slippage_bps=slippage,
                       size=size, risk="permissive", what="the run without caps")
        if free is not None:
            st.session_state["bt_uncapped_report"] = free.report
    free_rep = st.session_state.get("bt_uncapped_report")
    if free_rep and free_rep.get("strategy") == rep["strategy"] and free_rep.get("symbols") == rep["symbols"]:
        st.dataframe(pd.DataFrame({"with the configured caps": [_fmt(rep.get(k), p) for _, k, p in STATS],
                                   "without caps": [_fmt(free_rep.get(k), p) for _, k, p in STATS]}, index=[lbl for lbl, _, _ in STATS]),
                     width="stretch", key="bt_compare")
elif changes:
    st.caption("The risk engine approved every order of this run unchanged.")
bh = services.buy_and_hold_curve(frames, run_cash)
st.plotly_chart(lines({"strategy": result.equity, "buy & hold": bh}, "Equity vs buy-and-hold", yaxis_title="equity"), width="stretch", key="bt_equity")
st.plotly_chart(drawdown(result.equity), width="stretch", key="bt_dd")
k1, k2 = st.columns(2)
chart_sym = k1.selectbox("Trades on the chart of", list(frames), key="bt_chart_symbol") if len(frames) > 1 else next(iter(frames))
span = (k2 if len(frames) > 1 else k1).select_slider("Bars on the chart", options=[120, 250, 500, 1000, "all"], value=250, key="bt_chart_span")
shown_bars = frames[chart_sym] if span == "all" else frames[chart_sym].tail(span)
trades = result.trades[(result.trades["symbol"] == chart_sym) & (result.trades["entry_ts"] >= shown_bars.index[0])] if len(result.trades) else result.trades
fig = mark_trades(candlestick(shown_bars, f"{chart_sym}: {len(trades)} trades in view, entries ▲▼ and exits ×", volume=False), trades)
st.plotly_chart(fig, width="stretch", key="bt_candles")
left, right = st.columns([1, 2])
left.dataframe(pd.DataFrame({"value": [_fmt(rep.get(k), p) for _, k, p in STATS]}, index=[lbl for lbl, _, _ in STATS]), width="stretch", height=670)
if len(result.trades):
    shown = services.trade_rows(result.trades)
    config = {c: st.column_config.NumberColumn(c.replace("_", " "), format="%,.2f") for c in ("entry_price", "exit_price", "pnl", "fees")}
    config["return_pct"] = st.column_config.NumberColumn("return %", format="%+.2f")
    config["quantity"] = st.column_config.NumberColumn("qty", format="%,.6g")
    config.update({c: st.column_config.DatetimeColumn(c.replace("_ts", ""), format="YYYY-MM-DD") for c in ("entry_ts", "exit_ts")})
    right.caption("Closed trades, newest first")
    right.dataframe(shown, width="stretch", height=640, hide_index=True, column_config=config)
else:
    right.info("No closed trades in this run.")

st.divider()
st.subheader("Parameter sweep")
numeric = [k for k, v in strategies.get(strategy, {}).items() if isinstance(v, int | float) and not isinstance(v, bool)]
if len(numeric) < 2:
    st.caption("A sweep needs a strategy with two numeric parameters (e.g. sma_cross fast × slow).")
    st.stop()
s1, s2, s3, s4 = st.columns(4)
px = s1.selectbox("Rows", numeric, index=0, key="sw_x")
py = s2.selectbox("Columns", [n for n in numeric if n != px], key="sw_y")
xs = s3.text_input(f"{px} values", "5, 10, 20, 30", key="sw_xs")
ys = s4.text_input(f"{py} values", "20, 50, 100, 150", key="sw_ys")
metric_label = st.selectbox("Colour by", list(METRICS), key="sw_metric")
if st.button("Run sweep", key="sw_run", icon=":material/grid_on:"):
    try:
        grid = {px: [type(strategies[strategy][px])(float(v)) for v in xs.split(",") if v.strip()],
                py: [type(strategies[strategy][py])(float(v)) for v in ys.split(",") if v.strip()]}
    except ValueError:
        st.error("Sweep values must be comma-separated numbers, e.g. 5, 10, 20")
        st.stop()
    bar = st.progress(0.0, text="Sweeping…")
    table = guarded(services.parameter_sweep, frames, strategy, grid, base=params, cash=run_cash, commission=commission, slippage_bps=slippage, size=size,
                    risk=risk_mode,
                    progress=lambda i, n: bar.progress(i / n, text=f"Run {i} of {n}"), what="the sweep")
    bar.empty()
    if table is not None:
        st.session_state["sw_table"] = (table, px, py)
sweep = st.session_state.get("sw_table")
if sweep is not None:
    table, px, py = sweep
    metric = METRICS[metric_label]
    if metric not in table:
        st.warning("Every combination failed: " + "; ".join(table.get("error", pd.Series(dtype=str)).dropna().unique()[:3]))
    else:
        pivot = table.pivot_table(index=px, columns=py, values=metric, dropna=False)
        st.plotly_chart(heatmap(pivot, f"{metric_label} by {px} × {py} (blank: invalid combination)", x_title=py, y_title=px,
                                zmid=None if metric in ("trades",) else 0.0), width="stretch", key="sw_heat")
