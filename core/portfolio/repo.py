"""Persistence of a ledger: accounts, positions, fills, trades and equity snapshots."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlmodel import select

from core.domain import Fill, Position, Side
from core.portfolio.portfolio import ClosedTrade, EquityPoint, Portfolio
from core.store import Store
from core.store.tables import AccountRow, EquitySnapshotRow, FillRow, PositionRow, TradeRow


def _fill_values(fill: Fill, account: str) -> dict[str, Any]:
    return {"fill_id": fill.fill_id, "account": account, "client_order_id": fill.client_order_id, "symbol": fill.symbol, "side": str(fill.side),
            "quantity": fill.quantity, "price": fill.price, "fee": fill.fee, "ts": fill.ts, "venue": fill.venue, "liquidity": fill.liquidity}


def save_fill(store: Store, fill: Fill, account: str) -> None:
    """Store one fill (idempotent on ``fill_id``)."""
    save_fills(store, [fill], account)


def save_fills(store: Store, fills: Iterable[Fill], account: str) -> None:
    """Store fills in one statement (idempotent on ``fill_id``)."""
    store.upsert(FillRow, [_fill_values(f, account) for f in fills])


def load_fills(store: Store, account: str) -> list[Fill]:
    """Return the account's fills in time order."""
    with store.session() as s:
        rows = s.exec(select(FillRow).where(FillRow.account == account).order_by(FillRow.ts, FillRow.fill_id))
        return [Fill(r.fill_id, r.client_order_id, r.symbol, Side(r.side), r.quantity, r.price, r.fee, r.ts, r.venue, r.liquidity) for r in rows]


def save_trade(store: Store, trade: ClosedTrade, account: str) -> None:
    """Append one closed trade."""
    save_trades(store, [trade], account)


def save_trades(store: Store, trades: Iterable[ClosedTrade], account: str) -> None:
    """Append closed trades in one statement."""
    store.insert(TradeRow, [{"account": account, "symbol": t.symbol, "side": str(t.side), "quantity": abs(t.quantity), "entry_ts": t.entry_ts,
                             "exit_ts": t.exit_ts, "entry_price": t.entry_price, "exit_price": t.exit_price, "pnl": t.pnl, "fees": t.fees,
                             "mae": t.mae, "mfe": t.mfe} for t in trades])


def load_trades(store: Store, account: str) -> list[ClosedTrade]:
    """Return the account's closed trades in exit order."""
    with store.session() as s:
        rows = s.exec(select(TradeRow).where(TradeRow.account == account).order_by(TradeRow.exit_ts, TradeRow.id))
        return [ClosedTrade(r.symbol, r.quantity * Side(r.side).sign, r.entry_ts, r.exit_ts, r.entry_price, r.exit_price, r.pnl, r.fees,
                            r.mae or 0.0, r.mfe or 0.0) for r in rows]


def save_snapshot(store: Store, point: EquityPoint, account: str) -> None:
    """Store one equity-curve point (replacing one at the same time)."""
    save_snapshots(store, [point], account)


def save_snapshots(store: Store, points: Iterable[EquityPoint], account: str) -> None:
    """Store equity-curve points in one statement (each replacing one at the same time)."""
    store.upsert(EquitySnapshotRow, [{"account": account, "ts": p.ts, "equity": p.equity, "cash": p.cash, "gross_exposure": p.gross_exposure,
                                      "net_exposure": p.net_exposure} for p in points])


def load_equity(store: Store, account: str) -> list[EquityPoint]:
    """Return the account's equity curve."""
    with store.session() as s:
        e = EquitySnapshotRow  # columns, not ORM objects: a page reads the whole curve on every rerun
        rows = s.exec(select(e.ts, e.equity, e.cash, e.gross_exposure, e.net_exposure).where(e.account == account).order_by(e.ts))
        return [EquityPoint(*r) for r in rows]


def save_state(store: Store, portfolio: Portfolio, now: datetime) -> None:
    """Store the account's cash and fees and replace its positions with the current ones."""
    acc = portfolio.account
    with store.transaction():
        store.upsert(AccountRow, [{"account": acc, "cash": portfolio.cash, "currency": portfolio.currency, "fees_paid": portfolio.fees_paid,
                                   "updated_at": now}])
        store.delete_where(PositionRow, account=acc)
        store.insert(PositionRow, [{"account": acc, "symbol": p.symbol, "quantity": p.quantity, "avg_price": p.avg_price,
                                    "realized_pnl": p.realized_pnl, "last_price": portfolio.last_price(p.symbol), "updated_at": now}
                                   for p in portfolio.positions.values()])


def load_state(store: Store, account: str) -> Portfolio | None:
    """Return the stored cash, fees and positions of ``account`` as a ledger (None if never saved)."""
    with store.session() as s:
        acc = s.get(AccountRow, account)
        if acc is None:
            return None
        rows = list(s.exec(select(PositionRow).where(PositionRow.account == account)))
    pf = Portfolio(cash=acc.cash, account=account, currency=acc.currency, fees_paid=acc.fees_paid)
    for r in rows:
        pf.positions[r.symbol] = Position(r.symbol, r.quantity, r.avg_price, r.realized_pnl, r.last_price)
        if r.last_price is not None:
            pf.mark(r.symbol, r.last_price)
    return pf


class PortfolioRecorder:
    """Write every fill, closed trade and equity point of a live ledger to the store as it happens."""

    def __init__(self, store: Store, portfolio: Portfolio, fills_seen: int = 0) -> None:
        """``fills_seen``: how many of the broker's fills are stored already (e.g. rebuilt by a replay)."""
        self.store = store
        self.portfolio = portfolio
        self._fills = fills_seen
        self._trades = len(portfolio.trades)
        self._points = len(portfolio.equity_curve)

    def flush(self, fills: list[Fill], now: datetime) -> None:
        """Persist what is new since the last flush (``fills`` is the broker's full fill list)."""
        acc = self.portfolio.account
        with self.store.transaction():
            save_fills(self.store, fills[self._fills :], acc)
            save_trades(self.store, self.portfolio.trades[self._trades :], acc)
            save_snapshots(self.store, self.portfolio.equity_curve[self._points :], acc)
            save_state(self.store, self.portfolio, now)
        self._fills = len(fills)
        self._trades = len(self.portfolio.trades)
        self._points = len(self.portfolio.equity_curve)
