"""Backtest: strategy, symbols or an uploaded CSV, parameters, costs; results, trades on the chart, a parameter sweep."""

import pandas as pd
import streamlit as st

from core import services
from ui import sweep as sweep_ui
from ui.charts import candlestick, drawdown, lines, mark_trades
from ui.common import background_result, guarded, start_in_background

CHOICES = {"mode": ["long_short", "long_flat"]}  # string parameters with a known set of values
STATS = [("Return", "return_pct", "{:+.2f} %"), ("Buy & hold", "buy_and_hold_return_pct", "{:+.2f} %"), ("CAGR", "cagr_pct", "{:+.2f} %"),
         ("Sharpe", "sharpe", "{:.2f}"), ("Sortino", "sortino", "{:.2f}"), ("Calmar", "calmar", "{:.2f}"),
         ("Max drawdown", "max_drawdown_pct", "{:.2f} %"), ("Volatility (ann.)", "volatility_pct", "{:.2f} %"), ("Exposure", "exposure_pct", "{:.1f} %"),
         ("Trades", "trades", "{:,.0f}"), ("Win rate", "win_rate_pct", "{:.1f} %"), ("Profit factor", "profit_factor", "{:.2f}"),
         ("Expectancy", "expectancy", "{:,.2f}"), ("Best trade", "best_trade_pct", "{:+.2f} %"), ("Worst trade", "worst_trade_pct", "{:+.2f} %"),
         ("Fees paid", "fees", "{:,.2f}"), ("Final equity", "final_equity", "{:,.2f}"), ("Bars", "bars", "{:,.0f}")]


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
catalog = guarded(services.strategy_catalog, what="listing the strategies") or {"strategies": [], "errors": []}
strategies = {row["name"]: row["params"] for row in catalog["strategies"]}
described = {row["name"]: row for row in catalog["strategies"]}
symbols = guarded(services.list_symbols, "1d", what="listing the bundled symbols") or []
left, right = st.columns([1, 1])
strategy = left.selectbox("Strategy", list(strategies), index=list(strategies).index("sma_cross") if "sma_cross" in strategies else 0, key="bt_strategy",
                          format_func=lambda n: f"{n} · {described[n]['origin']}" if n in described else n)
if strategy in described:
    left.caption(described[strategy]["summary"] or " ")
for problem in catalog["errors"]:
    left.warning(f"Your strategies folder: {problem}", icon=":material/error:")
source = right.radio("Data", ["Bundled symbols", "Upload file"], horizontal=True, key="bt_source")
upload = None
repair = False
if source == "Bundled symbols":
    picked = right.multiselect("Symbols (several = one portfolio, equal weights)", symbols, default=["AAPL"] if "AAPL" in symbols else symbols[:1],
                               key="bt_symbols")
else:
    upload = right.file_uploader("CSV or Parquet with ts/date, open, high, low, close, volume", type=["csv", "parquet"], key="bt_upload")
    repair = right.checkbox("Drop bad rows (each one is listed)", key="bt_repair",
                            help="Without this a bad row (NaN, infinity, high below low, a likely bad tick...) stops the run and is named.")
    picked = []
st.caption("Parameters")
params = _param_inputs(strategies.get(strategy, {}), f"bt_p_{strategy}") if strategies.get(strategy) else {}
if not strategies.get(strategy):
    st.caption("This strategy has no parameters.")
costs = guarded(services.fill_defaults, what="reading the cost settings") or {"commission": 0.001, "slippage_bps": 0.0, "max_volume_share": 0.0}
c1, c2, c3, c4, c5 = st.columns(5)
cash = c1.number_input("Starting cash", value=10_000.0, min_value=100.0, step=1_000.0, key="bt_cash")
commission = c2.number_input("Commission (% of notional per fill)", value=float(costs["commission"]) * 100, min_value=0.0, max_value=5.0, step=0.05,
                             key="bt_commission", format="%.3f", help="Default: trading.commission, the paper loop's setting") / 100
slippage = c3.number_input("Slippage (bps per market fill)", value=float(costs["slippage_bps"]), min_value=0.0, max_value=500.0, step=1.0,
                           key="bt_slippage", help="Default: trading.slippage_bps, the paper loop's setting")
# Percentages on screen, fractions in the engine (one convention on every page).
volume_share = c4.number_input("Max share of bar volume (%, 0 = no cap)", value=float(costs["max_volume_share"]) * 100, min_value=0.0, max_value=100.0,
                               step=1.0, key="bt_volume_share", help="Default: trading.max_volume_share; the rest of an order fills on later bars") / 100
size = c5.number_input("Size (% of equity per entry, before the risk caps)", value=100.0, min_value=1.0, max_value=100.0, step=5.0, format="%.0f",
                       key="bt_size") / 100
risk_mode = st.radio("Risk limits", ["configured", "permissive"], horizontal=True, key="bt_risk",
                     help="Every order passes the risk engine. 'configured' uses the limits in force (Settings page); "
                          "'permissive' keeps the engine on with limits that never bind, to compare with all-in backtests elsewhere. "
                          "'configured' also gives every position the protective stop of risk.stop (Settings page), as in paper trading.")


def _frames(notes: list[str]):
    if source != "Bundled symbols":
        if upload is None:
            raise ValueError("choose a CSV or Parquet file to upload first")
        frame, found = services.bars_from_upload(upload.getvalue(), upload.name, repair=repair)
        notes.extend(found)
        return {upload.name.rsplit(".", 1)[0].upper(): frame}
    return services.lab_frames(picked)


if st.button("Run backtest", type="primary", key="bt_run", icon=":material/play_arrow:"):
    st.session_state.pop("bt_result", None)  # a failed run must not leave the previous result on show
    data_notes: list[str] = []
    with st.status("Running the backtest…", expanded=False) as status:
        status.update(label="Loading bars…")
        frames = guarded(_frames, data_notes, what="loading the data")
        if frames:
            status.update(label=f"Simulating {strategy} on {', '.join(frames)}…")
            result = guarded(services.lab_backtest, frames, strategy, params, cash=cash, commission=commission, slippage_bps=slippage, size=size,
                             risk=risk_mode, max_volume_share=volume_share, what="the backtest")
            if result is not None:
                st.session_state["bt_result"] = (result, frames, cash)
                status.update(label=f"Done: {result.report['bars']:,} bars, {result.report['trades']:,} trades ({result.path} path)", state="complete")
        if "bt_result" not in st.session_state:
            status.update(label="Backtest failed: see the message below", state="error", expanded=True)
    for note in data_notes:
        st.warning(note)

with st.expander("Compare strategies side by side", icon=":material/compare_arrows:"):
    library = [row["name"] for row in catalog["strategies"] if row["origin"] == "library"]
    chosen = st.multiselect("Strategies (each with its default parameters, on the data and costs above)", list(strategies), default=library,
                            key="cmp_strategies")
    if st.button("Compare", key="cmp_run", icon=":material/compare_arrows:") and chosen:
        cmp_notes: list[str] = []
        frames_cmp = guarded(_frames, cmp_notes, what="loading the data")
        for note in cmp_notes:
            st.warning(note)
        if frames_cmp:  # in a worker process: one backtest per strategy, the page stays usable meanwhile
            st.session_state.pop("cmp_result", None)
            start_in_background("cmp_task", services.compare_strategies, frames_cmp, chosen, cash=cash, commission=commission, slippage_bps=slippage,
                                size=size, risk=risk_mode, max_volume_share=volume_share, what="the comparison", progress_arg="progress", counts=True,
                                process=True)  # fmt: skip
    out = background_result("cmp_task", "comparing the strategies")
    if out is not None:
        st.session_state["cmp_result"] = out
    if "cmp_result" in st.session_state:
        table, curves = st.session_state["cmp_result"]
        cols = [c for c in ("return_pct", "cagr_pct", "sharpe", "sortino", "max_drawdown_pct", "trades", "win_rate_pct", "exposure_pct", "check", "error")
                if c in table]
        st.dataframe(table[cols], width="stretch", key="cmp_table")
        if curves:
            st.plotly_chart(lines(curves, "Equity, side by side", yaxis_title="equity"), width="stretch", key="cmp_equity")

res = st.session_state.get("bt_result")
if res is None:
    st.info("Pick a strategy and symbols, then press **Run backtest**.")
    st.stop()
result, frames, run_cash = res
rep = result.report
st.subheader(f"{rep['strategy']} on {', '.join(rep['symbols'])} · {rep['start'][:10]} → {rep['end'][:10]}")
check = rep.get("check")
if check is not None and not check["ok"]:
    detail = check["problems"][0]["message"] if check["problems"] else ""
    st.error(f"**This strategy fails the look-ahead check** and cannot be paper- or live-traded. {detail}", icon=":material/warning:")
for w in rep.get("warnings", [])[1 if check is not None and not check["ok"] else 0 :]:
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
                       size=size, risk="permissive", max_volume_share=volume_share, what="the run without caps")
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
sweep_ui.render(strategy, strategies.get(strategy, {}), frames, params, cash=run_cash, commission=commission, slippage=slippage, size=size, risk=risk_mode,
                volume_share=volume_share)
