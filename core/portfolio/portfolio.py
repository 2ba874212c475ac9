"""One account's ledger: cash, positions, fees, realised/unrealised P&L, trades, equity curve.

Conventions
-----------
* Spot-style cash accounting: a buy pays ``quantity * price + fee`` out of cash,
  a sell receives ``quantity * price - fee``; a short therefore holds its sale
  proceeds in cash and equity is ``cash + sum(quantity * last_price)``.
* Average cost: adding to a position moves the average price; reducing it
  realises ``(exit - average) * quantity`` (gross of fees) and keeps the average.
* A *trade* is one round trip of a position from flat back to flat (a reversal
  closes one trade and opens the next with the remainder). Its ``pnl`` is net of
  every fee paid on its entry and exit fills; ``mae``/``mfe`` are the worst and
  best unrealised P&L (currency, gross) seen while it was open, from bar lows/highs.
* Multi-currency ready: every amount is in the account currency; instruments in
  another currency need a converted price before they reach the ledger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.domain import Bar, Fill, Position, Side

_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A finished round trip; ``quantity`` is signed (+ long, - short), ``pnl`` net of fees."""

    symbol: str
    quantity: float
    entry_ts: datetime
    exit_ts: datetime
    entry_price: float
    exit_price: float
    pnl: float
    fees: float
    mae: float
    mfe: float

    @property
    def side(self) -> Side:
        """Return BUY for a long trade and SELL for a short one."""
        return Side.BUY if self.quantity > 0 else Side.SELL

    @property
    def duration(self):
        """Return the time the trade was open."""
        return self.exit_ts - self.entry_ts

    @property
    def return_pct(self) -> float:
        """Return the net P&L as a percentage of the entry notional."""
        notional = abs(self.quantity) * self.entry_price
        return 100.0 * self.pnl / notional if notional else 0.0


@dataclass(slots=True)
class _OpenTrade:
    entry_ts: datetime
    peak_qty: float
    fees: float = 0.0
    realized: float = 0.0
    exit_value: float = 0.0
    exit_qty: float = 0.0
    mae: float = 0.0
    mfe: float = 0.0


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """One point of the equity curve."""

    ts: datetime
    equity: float
    cash: float
    gross_exposure: float
    net_exposure: float


class _Versioned(dict):
    """A dict that counts its writes, so the portfolio can keep its equity between them."""

    version = 0  # a class default: unpickling sets items before any instance state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.version += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self.version += 1
        super().__delitem__(key)

    def __ior__(self, other: Any) -> _Versioned:
        self.version += 1
        return super().__ior__(other)

    def pop(self, *args: Any) -> Any:
        self.version += 1
        return super().pop(*args)

    def popitem(self) -> Any:
        self.version += 1
        return super().popitem()

    def clear(self) -> None:
        self.version += 1
        super().clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.version += 1
        super().update(*args, **kwargs)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self.version += 1
        return super().setdefault(key, default)


@dataclass
class Portfolio:
    """The ledger of one account; feed it fills and marks, read equity and trades."""

    cash: float
    account: str = "paper"
    currency: str = "USD"
    fees_paid: float = 0.0
    positions: dict[str, Position] = field(default_factory=dict)
    trades: list[ClosedTrade] = field(default_factory=list)
    equity_curve: list[EquityPoint] = field(default_factory=list)
    _open: dict[str, _OpenTrade] = field(default_factory=dict, repr=False)
    _last: dict[str, float] = field(default_factory=dict, repr=False)
    _realized: dict[str, float] = field(default_factory=dict, repr=False)
    # Running marks of the equity curve, updated per snapshot (O(1)): the peak of every point
    # but the last, the last point of the day before the last point's day, the first point.
    _peak_prior: float = field(default=-math.inf, repr=False)
    _day_ref: float | None = field(default=None, repr=False)
    _seen: int = field(default=0, repr=False)
    # Equity and gross exposure as of the last write to cash, positions or marks: a risk check reads them
    # several times per order, and summing every position each time made a 500-symbol book O(k^2) per bar.
    _memo: tuple = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        self.positions = _Versioned(self.positions)
        self._last = _Versioned(self._last)

    # -- reading -----------------------------------------------------------------
    def quantity(self, symbol: str) -> float:
        """Return the signed position in ``symbol`` (0 when flat)."""
        pos = self.positions.get(symbol)
        return pos.quantity if pos else 0.0

    def last_price(self, symbol: str) -> float | None:
        """Return the latest mark of ``symbol`` (None before the first one)."""
        return self._last.get(symbol)

    def _values(self) -> tuple[float, float]:
        """Return (equity, gross exposure), summed again only after a write to cash, positions or marks."""
        pos, last = self.positions, self._last
        key = (self.cash, id(pos), getattr(pos, "version", None), id(last), getattr(last, "version", None))
        memo = self._memo
        if memo and memo[0] == key and key[2] is not None and key[4] is not None:
            return memo[1], memo[2]
        # The same sums as _mark per position, without a method call each.
        equity = self.cash + sum(p.quantity * last.get(p.symbol, p.avg_price) for p in pos.values())
        gross = sum(abs(p.quantity * last.get(p.symbol, p.avg_price)) for p in pos.values())
        self._memo = (key, equity, gross)
        return equity, gross

    def equity(self) -> float:
        """Return cash plus the marked value of every position."""
        return self._values()[0]

    def gross_exposure(self) -> float:
        """Return the sum of absolute position values."""
        return self._values()[1]

    def net_exposure(self) -> float:
        """Return the sum of signed position values."""
        return sum(p.quantity * self._mark(p) for p in self.positions.values())

    def available(self) -> float:
        """Return equity not tied up in positions: what a new position may use."""
        return max(0.0, self.equity() - self.gross_exposure())

    def realized_pnl(self) -> float:
        """Return realised P&L of all positions (gross of fees)."""
        return sum(self._realized.values())

    def unrealized_pnl(self) -> float:
        """Return the mark-to-market P&L of the open positions."""
        return sum((self._mark(p) - p.avg_price) * p.quantity for p in self.positions.values())

    def _mark(self, pos: Position) -> float:
        return self._last.get(pos.symbol, pos.avg_price)

    # -- writing -------------------------------------------------------------------
    def mark(self, symbol: str, price: float, high: float | None = None, low: float | None = None) -> None:
        """Set the last price of ``symbol``; ``high``/``low`` update the open trade's MAE/MFE."""
        self._last[symbol] = price
        pos = self.positions.get(symbol)
        if pos is not None:
            self.positions[symbol] = Position(symbol, pos.quantity, pos.avg_price, pos.realized_pnl, price)
            self._excursion(symbol, pos, high if high is not None else price, low if low is not None else price)

    def mark_bar(self, bar: Bar) -> None:
        """Mark ``bar.symbol`` at the bar's close, using its range for MAE/MFE."""
        self.mark(bar.symbol, bar.close, bar.high, bar.low)

    def _excursion(self, symbol: str, pos: Position, high: float, low: float) -> None:
        trade = self._open.get(symbol)
        if trade is None or abs(pos.quantity) < _EPS:
            return
        at_high = (high - pos.avg_price) * pos.quantity
        at_low = (low - pos.avg_price) * pos.quantity
        trade.mae = min(trade.mae, at_high, at_low)
        trade.mfe = max(trade.mfe, at_high, at_low)

    def apply_fill(self, fill: Fill) -> ClosedTrade | None:
        """Book ``fill``: move cash, pay the fee, update the position; return a trade it closed."""
        signed = fill.side.sign * fill.quantity
        self.cash -= signed * fill.price + fill.fee
        self.fees_paid += fill.fee
        self._last.setdefault(fill.symbol, fill.price)
        pos = self.positions.get(fill.symbol) or Position(fill.symbol, 0.0, 0.0, self._realized.get(fill.symbol, 0.0), self._last.get(fill.symbol))
        old = pos.quantity
        new = old + signed
        closed: ClosedTrade | None = None
        if abs(old) < _EPS or old * signed > 0:  # opening or adding
            avg = (abs(old) * pos.avg_price + abs(signed) * fill.price) / abs(new)
            trade = self._open.get(fill.symbol)
            if trade is None:
                trade = self._open[fill.symbol] = _OpenTrade(entry_ts=fill.ts, peak_qty=new)
            trade.fees += fill.fee
            if abs(new) > abs(trade.peak_qty):
                trade.peak_qty = new
            pos = Position(fill.symbol, new, avg, pos.realized_pnl, pos.last_price)
        else:  # reducing, closing or reversing
            closing = min(abs(signed), abs(old))
            pnl = (fill.price - pos.avg_price) * closing * (1 if old > 0 else -1)
            share = closing / abs(signed)
            trade = self._open.get(fill.symbol) or _OpenTrade(entry_ts=fill.ts, peak_qty=old)
            trade.fees += fill.fee * share
            trade.realized += pnl
            trade.exit_value += closing * fill.price
            trade.exit_qty += closing
            realized = pos.realized_pnl + pnl
            if abs(new) < _EPS:
                closed = self._close_trade(fill, pos, trade)
                pos = Position(fill.symbol, 0.0, 0.0, realized, pos.last_price)
            elif old * new < 0:  # reversed: the remainder opens a new trade at the fill price
                closed = self._close_trade(fill, pos, trade)
                self._open[fill.symbol] = _OpenTrade(entry_ts=fill.ts, peak_qty=new, fees=fill.fee * (1 - share))
                pos = Position(fill.symbol, new, fill.price, realized, pos.last_price)
            else:
                pos = Position(fill.symbol, new, pos.avg_price, realized, pos.last_price)
        self._realized[fill.symbol] = pos.realized_pnl
        if abs(pos.quantity) < _EPS:
            self.positions.pop(fill.symbol, None)  # flat symbols keep their realised P&L in _realized
        else:
            self.positions[fill.symbol] = pos
        return closed

    def _close_trade(self, fill: Fill, pos: Position, trade: _OpenTrade) -> ClosedTrade:
        self._open.pop(fill.symbol, None)
        exit_price = trade.exit_value / trade.exit_qty if trade.exit_qty else fill.price
        qty = trade.peak_qty
        closed = ClosedTrade(
            symbol=fill.symbol,
            quantity=qty,
            entry_ts=trade.entry_ts,
            exit_ts=fill.ts,
            entry_price=pos.avg_price,
            exit_price=exit_price,
            pnl=trade.realized - trade.fees,
            fees=trade.fees,
            mae=min(trade.mae, trade.realized),  # the exit itself is an excursion too
            mfe=max(trade.mfe, trade.realized),
        )
        self.trades.append(closed)
        return closed

    def snapshot(self, ts: datetime) -> EquityPoint:
        """Append and return the equity-curve point at ``ts`` (a second point at the same ``ts`` replaces the first)."""
        self._sync()
        # One pass over the positions: the same sums, in the same order, as equity(), gross_exposure() and net_exposure().
        net = gross = 0
        last = self._last
        for p in self.positions.values():
            value = p.quantity * last.get(p.symbol, p.avg_price)
            net += value
            gross += abs(value)
        point = EquityPoint(ts, self.cash + net, self.cash, gross, net)
        curve = self.equity_curve
        if curve and curve[-1].ts == ts:
            curve[-1] = point
        else:
            if curve:
                last = curve[-1]
                self._peak_prior = max(self._peak_prior, last.equity)
                if last.ts.date() < ts.date():
                    self._day_ref = last.equity
            curve.append(point)
            self._seen = len(curve)
        return point

    def _sync(self) -> None:
        """Rebuild the running marks when the curve was replaced or extended from outside (e.g. loaded from the store)."""
        curve = self.equity_curve
        if self._seen == len(curve):
            return
        self._peak_prior = max((p.equity for p in curve[:-1]), default=-math.inf)
        self._day_ref = None
        if curve:
            day = curve[-1].ts.date()
            before = [p.equity for p in curve if p.ts.date() < day]
            self._day_ref = before[-1] if before else None
        self._seen = len(curve)

    def peak_equity(self) -> float:
        """Return the high-water mark: the highest equity of the curve and of the current marks."""
        self._sync()
        last = self.equity_curve[-1].equity if self.equity_curve else -math.inf
        return max(self._peak_prior, last, self.equity())

    def day_start_equity(self, now: datetime | None = None) -> float:
        """Return the equity at the start of ``now``'s UTC day (default: the day of the last curve point).

        The one definition used by the risk gate, the book and the dashboard: the last curve
        point before that day; on the account's first day, its first point; with no curve yet,
        the current equity.
        """
        self._sync()
        curve = self.equity_curve
        if not curve:
            return self.equity()
        last = curve[-1]
        day = now.date() if now is not None else last.ts.date()
        if last.ts.date() < day:
            return last.equity
        if last.ts.date() == day:
            return self._day_ref if self._day_ref is not None else curve[0].equity
        before = [p.equity for p in curve if p.ts.date() < day]  # a day in the past: rare, scan
        return before[-1] if before else curve[0].equity

    def open_trade_entry(self, symbol: str) -> datetime | None:
        """Return when the open trade in ``symbol`` started (None when flat)."""
        trade = self._open.get(symbol)
        return trade.entry_ts if trade else None


def floor_to_lot(quantity: float, lot: float) -> float:
    """Round ``quantity`` down to a whole number of lots (tolerant of float noise)."""
    if lot <= 0:
        return quantity
    units = quantity / lot
    if abs(units - round(units)) <= 1e-9 * max(1.0, abs(units)):
        return quantity  # already whole lots: keep it exact (a closing order must match the position)
    return math.floor(units) * lot
