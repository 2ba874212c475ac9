"""Portfolio: positions, allocation, P&L, a performance tear sheet and the trade history of the paper account."""

import calendar

import pandas as pd
import streamlit as st

from core import services
from core.services import format_pct as pct
from ui.charts import drawdown, heatmap, lines, pie
from ui.common import context, exposure_metrics, guarded, lazy_tabs

MONEY = st.column_config.NumberColumn(format="%,.2f")


def _overview(book: dict, eq: pd.Series) -> None:
    """Open positions, allocation and the equity curve."""
    st.subheader("Positions")
    pos = book["positions"]
    if pos.empty:
        st.caption("Flat: no open positions.")
    else:
        left, right = st.columns([3, 2])
        labels = {"avg_price": "avg price", "last_price": "last price", "value": "value", "unrealized_pnl": "unrealized P&L", "realized_pnl": "realized P&L"}
        left.dataframe(pos, width="stretch", hide_index=True,
                       column_config={c: st.column_config.NumberColumn(lbl, format="%,.2f") for c, lbl in labels.items()})
        alloc = pos.set_index("symbol")["value"].abs()
        alloc["free equity"] = max(book["equity"] - float(alloc.sum()), 0.0)  # what new positions may still use
        right.plotly_chart(pie(alloc[alloc > 0], "Allocation (gross value)", height=300), width="stretch", key="pf_alloc")

    st.plotly_chart(lines({"equity": eq}, "Equity curve", height=320), width="stretch", key="pf_equity")


def _performance(eq: pd.Series) -> None:
    """The tear sheet: return, risk-adjusted ratios, drawdown, monthly returns, rolling Sharpe."""
    st.subheader("Performance")
    summary = guarded(services.performance_summary, eq, what="the tear sheet")
    if summary:
        t = st.columns(6)
        for col, (label, value) in zip(t, [("Total return", pct(summary['total_return'], sign=True)), ("CAGR", pct(summary['cagr'], sign=True)),
                                            ("Sharpe", f"{summary['sharpe']:.2f}"), ("Sortino", f"{summary['sortino']:.2f}"),
                                            ("Max drawdown", pct(summary['max_drawdown_pct'])), ("Volatility (ann.)", pct(summary['volatility_ann']))],
                                       strict=True):
            col.metric(label, value)
        st.caption(f"{int(summary['periods']):,} daily returns from {eq.index[0]:%Y-%m-%d} to {eq.index[-1]:%Y-%m-%d}; Sharpe with a zero risk-free rate, "
                   "annualised with √252.")
    st.plotly_chart(drawdown(eq), width="stretch", key="pf_dd")
    monthly = services.monthly_returns(eq)
    monthly.columns = [calendar.month_abbr[c] for c in monthly.columns]
    st.plotly_chart(heatmap(monthly, "Monthly returns", fmt=".1%", height=120 + 45 * len(monthly)), width="stretch", key="pf_monthly")
    right = st.container()
    window = right.select_slider("Rolling Sharpe window (days)", options=[21, 63, 126, 252], value=63, key="pf_window")
    roll = services.rolling_sharpe(eq, window=window)
    if roll.empty:
        right.caption(f"Rolling Sharpe needs more than {window} days of history.")
    else:
        right.plotly_chart(lines({f"{window}-day Sharpe": roll}, f"Rolling Sharpe ({window} days)", height=280), width="stretch", key="pf_roll")


def _trades(book: dict) -> None:
    """Closed trades, filterable, with a CSV download."""
    st.subheader("Trade history")
    trades = services.trade_rows(book["trades"])
    if trades.empty:
        st.caption("No closed trades yet.")
        return
    f = st.columns(3)
    syms = f[0].multiselect("Symbols", sorted(trades["symbol"].unique()), key="pf_symbols")
    side = f[1].selectbox("Side", ["all", "long", "short"], key="pf_side")
    outcome = f[2].selectbox("Outcome", ["all", "winners", "losers"], key="pf_outcome")
    shown = trades
    if syms:
        shown = shown[shown["symbol"].isin(syms)]
    if side != "all":
        shown = shown[shown["side"] == side]
    if outcome != "all":
        shown = shown[shown["pnl"] > 0] if outcome == "winners" else shown[shown["pnl"] <= 0]
    st.caption(f"{len(shown):,} of {len(trades):,} trades · P&L {shown['pnl'].sum():+,.2f} · win rate "
               f"{pct((shown['pnl'] > 0).mean(), 0)}" if len(shown) else "No trades match the filters.")
    st.dataframe(shown, width="stretch", hide_index=True, height=320,
                 column_config={**{c: MONEY for c in ("entry_price", "exit_price", "pnl", "fees")},
                                "return_pct": st.column_config.NumberColumn("return %", format="%+.2f"),
                                "entry_ts": st.column_config.DatetimeColumn("entry", format="YYYY-MM-DD"),
                                "exit_ts": st.column_config.DatetimeColumn("exit", format="YYYY-MM-DD")})
    st.download_button("Download CSV", shown.to_csv(index=False).encode(), file_name="paper_trades.csv", mime="text/csv", key="pf_csv",
                       icon=":material/download:")


st.title("Portfolio")
ctx = context()
book = guarded(services.paper_book, ctx=ctx, what="loading the paper account")
if book is None:
    st.stop()
if not book["exists"] or book["equity_curve"].empty:
    st.info("No paper history yet. **Switch on paper trading in the sidebar**: the trading loop then fills this page with positions, "
            "the equity curve and closed trades. To explore a strategy's performance right away, use the **Backtest** page.",
            icon=":material/info:")
    st.stop()

eq = book["equity_curve"]
start = float(eq.iloc[0])
m = st.columns(5)
m[0].metric("Equity", f"{book['equity']:,.2f}", f"{pct(book['equity'] / start - 1, sign=True)} since start")
m[1].metric("Cash", f"{book['cash']:,.2f}")
m[2].metric("Realized P&L", f"{book['realized_pnl']:+,.2f}", help="Closed trades, net of fees")
m[3].metric("Unrealized P&L", f"{book['unrealized_pnl']:+,.2f}", help="Open positions marked at the last price")
m[4].metric("Fees paid", f"{book['fees']:,.2f}")
exposure = guarded(services.book_exposure, ctx=ctx, what="beta and concentration")
if exposure:
    exposure_metrics(st.columns(5)[:2], exposure)

# The account's figures above; positions and the equity curve first, the tear sheet's four charts and the trades when opened.
lazy_tabs("portfolio_view", {"Overview": lambda: _overview(book, eq), "Performance": lambda: _performance(eq), "Trades": lambda: _trades(book)})
