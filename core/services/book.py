"""Book views for the UI and manual orders: the stored paper account as risk-engine inputs and as tables."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd

from core.data.providers import DataError
from core.portfolio import repo as portfolio_repo
from core.risk.types import MarketState, PortfolioState
from core.services.context import Context, get_context
from core.services.data import list_symbols, load_bars

DEFAULT_CASH = 100_000.0  # what paper_session starts an account with


def paper_asof(account: str = "paper", ctx: Context | None = None) -> pd.Timestamp | None:
    """Return the paper session's clock: its last processed bar, or, before the first, the end of its warm-up.

    Without a session, the time of the account's latest equity point; None without history.
    A session that has not traded yet must not be shown bars after its start (they are its future).
    """
    ctx = ctx or get_context()
    for value in (ctx.store.get_setting(f"loop.{account}.last_bar"), (ctx.store.get_setting(f"loop.{account}.session") or {}).get("warmup_end")):
        if value:
            ts = pd.Timestamp(value)
            return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    curve = portfolio_repo.load_equity(ctx.store, account)
    return pd.Timestamp(curve[-1].ts).tz_convert("UTC") if curve else None


def paper_state(account: str = "paper", ctx: Context | None = None) -> PortfolioState:
    """Return the stored account as a :class:`PortfolioState` (a fresh 100,000 account when nothing is stored).

    The peak and the day-start equity are the ledger's own (:meth:`Portfolio.peak_equity`,
    :meth:`Portfolio.day_start_equity` of the day of the latest stored point).
    """
    ctx = ctx or get_context()
    pf = portfolio_repo.load_state(ctx.store, account)
    if pf is None:
        return PortfolioState(DEFAULT_CASH, DEFAULT_CASH, DEFAULT_CASH, DEFAULT_CASH)
    pf.equity_curve = portfolio_repo.load_equity(ctx.store, account)
    return PortfolioState.from_positions(pf.equity(), pf.cash, pf.positions.values(), peak_equity=pf.peak_equity(), day_start_equity=pf.day_start_equity())


def market_state(symbols: Iterable[str], asof: datetime | None = None, window: int = 300, ctx: Context | None = None) -> MarketState:
    """Return the daily returns (last ``window`` rows up to ``asof``) and last closes of the bundled ``symbols``.

    Symbols without bundled daily bars are left out: the risk engine then vetoes
    new risk in them for lack of history, which is the safe answer.
    """
    closes: dict[str, pd.Series] = {}
    for sym in sorted({s.upper() for s in symbols}):
        try:
            close = load_bars(sym, end=asof, ctx=ctx)["close"]
        except DataError:
            continue
        if len(close):
            closes[sym] = close.tail(window + 1)
    if not closes:
        return MarketState()
    frame = pd.DataFrame(closes)
    prices = {s: float(c.iloc[-1]) for s, c in closes.items()}
    return MarketState(returns=frame.pct_change().iloc[1:], prices=prices)


def last_price(symbol: str, asof: datetime | None = None, ctx: Context | None = None) -> float | None:
    """Return the last bundled close of ``symbol`` at or before ``asof`` (None when unknown)."""
    try:
        close = load_bars(symbol, end=asof, ctx=ctx)["close"]
    except DataError:
        return None
    return float(close.iloc[-1]) if len(close) else None


def paper_book(account: str = "paper", ctx: Context | None = None) -> dict[str, Any]:
    """Return the stored account for display: summary numbers, positions, equity curve and closed trades.

    Keys: ``exists``, ``cash``, ``equity``, ``realized_pnl``, ``unrealized_pnl``, ``fees``,
    ``positions`` (DataFrame), ``equity_curve`` (Series), ``trades`` (DataFrame).
    """
    ctx = ctx or get_context()
    pf = portfolio_repo.load_state(ctx.store, account)
    curve = portfolio_repo.load_equity(ctx.store, account)
    trades = portfolio_repo.load_trades(ctx.store, account)
    eq = pd.Series([p.equity for p in curve], index=pd.DatetimeIndex([p.ts for p in curve], name="ts"), name="equity", dtype=float)
    rows = []
    if pf is not None:
        for p in pf.positions.values():
            if p.quantity == 0:
                continue
            mark = p.last_price if p.last_price is not None else p.avg_price
            rows.append({"symbol": p.symbol, "quantity": p.quantity, "avg_price": p.avg_price, "last_price": mark, "value": p.quantity * mark,
                         "unrealized_pnl": (mark - p.avg_price) * p.quantity, "realized_pnl": p.realized_pnl})
    tr = pd.DataFrame([{"symbol": t.symbol, "side": "long" if t.quantity > 0 else "short", "quantity": abs(t.quantity), "entry_ts": t.entry_ts,
                        "exit_ts": t.exit_ts, "entry_price": t.entry_price, "exit_price": t.exit_price, "pnl": t.pnl, "fees": t.fees,
                        "return_pct": t.return_pct} for t in trades])
    positions = pd.DataFrame(rows, columns=["symbol", "quantity", "avg_price", "last_price", "value", "unrealized_pnl", "realized_pnl"])
    return {
        "exists": pf is not None,
        "cash": pf.cash if pf else 0.0,
        "equity": pf.equity() if pf else 0.0,
        "realized_pnl": float(sum(t.pnl for t in trades)),
        "unrealized_pnl": float(positions["unrealized_pnl"].sum()) if len(positions) else 0.0,
        "fees": pf.fees_paid if pf else 0.0,
        "positions": positions,
        "equity_curve": eq,
        "trades": tr,
    }


def bundled_returns(symbols: Iterable[str] | None = None, ctx: Context | None = None) -> pd.DataFrame:
    """Return daily close-to-close returns of the bundled daily symbols, one column each (NaN where a symbol has no bar)."""
    symbols = list(symbols) if symbols is not None else list_symbols("1d", ctx=ctx)
    frame = pd.DataFrame({s: load_bars(s, ctx=ctx)["close"].pct_change() for s in symbols})
    return frame.dropna(how="all")
