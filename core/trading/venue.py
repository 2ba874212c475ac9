"""A real venue (Binance, Alpaca, Zerodha, a router) as the trading loop's broker: the venue is the source of truth.

The loop's pipeline (strategy -> risk engine -> order manager -> broker) is the same as on
the paper broker; only the ledger differs. :class:`VenueBook` wraps the venue adapter:
orders go straight through, the venue's fills are applied once each (keyed by fill ID) to a
local :class:`~core.portfolio.Portfolio` that the risk engine and the Dashboard read, and
:meth:`VenueBook.reconcile` makes orders, fills, positions and cash equal to the venue's,
recording every difference in the audit log. Recovery after a restart is a reconciliation,
never a replay: the venue is not a deterministic simulation.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import Any

from core.brokers.base import Broker, BrokerError, OrderNotFound
from core.brokers.events import RECONCILED
from core.clock import Clock, SystemClock
from core.domain import Bar, Fill, Instrument, Order, Position
from core.execution.manager import OrderManager
from core.portfolio import Portfolio
from core.store import Store

log = logging.getLogger("core.trading.venue")

CASH_CURRENCIES = ("USDT", "USD", "INR", "EUR", "USDC")
#: How far before the newest applied fill a poll asks the venue again (a fill reported late, clock skew).
FILL_OVERLAP = timedelta(minutes=5)


def venue_kind(broker: Broker) -> str:
    """Return ``live``, ``testnet``, ``paper`` or ``local`` for the venue's resolved endpoint (for the status strip)."""
    name = str(getattr(broker, "name", ""))
    if name.endswith("-testnet"):
        return "testnet"
    if name.endswith("-paper"):
        return "paper"
    return "live" if name in ("binance", "alpaca", "zerodha") else "local"


def venue_cash(balances: list[Any], quote: str | None = None) -> tuple[float, str]:
    """Return the cash balance (quote currency first, then the usual cash currencies) and its currency."""
    for currency in ((quote,) if quote else ()) + CASH_CURRENCIES:
        for b in balances:
            if b.currency == currency:
                return float(b.total), currency
    return 0.0, quote or "USD"


class VenueBook:
    """The venue adapter plus the loop's ledger of its fills (what ``engine.portfolio`` reads).

    Parameters
    ----------
    venue : Broker
        The adapter the factory built (testnet/paper endpoints unless live is confirmed).
    portfolio : Portfolio
        The ledger: rebuilt from the store after a restart, corrected to the venue by :meth:`reconcile`.
    seen : iterable of str
        Fill IDs already in the ledger (stored ones).
    store : Store
        Where differences are audited.
    last_fill : datetime, optional
        Time of the newest fill in the ledger: polls ask the venue only for fills from
        :data:`FILL_OVERLAP` before the newest one seen, so a poll's cost does not grow with the
        account's history (fills are de-duplicated by ID).
    """

    def __init__(self, venue: Broker, portfolio: Portfolio, seen: set[str], store: Store, last_fill: datetime | None = None) -> None:
        self.venue = venue
        self.portfolio = portfolio
        self.store = store
        self.name = getattr(venue, "name", "venue")
        self._seen = set(seen)
        self._fills: list[Fill] = []
        self._last_fill = last_fill
        self.unpolled = False  # an order went to the venue unfilled since the last poll: it may have filled since
        self.quote: str | None = getattr(venue, "quote", None)
        self._instruments: dict[str, Instrument] = {}

    @property
    def instruments(self) -> dict[str, Instrument]:
        """Return lot and tick sizes from the venue's own instrument rules (Binance's exchange info); sizing reads them."""
        if not self._instruments:
            rules = (self.venue.capabilities().extra or {}).get("rules") or {}
            self._instruments = {s: Instrument(s, tick_size=float(r.get("tick_size") or 0.0), lot_size=float(r["lot_size"]))
                                 for s, r in rules.items() if r.get("lot_size")}
        return self._instruments

    # -- the Broker protocol, delegated --------------------------------------------------
    def capabilities(self) -> Any:
        """Return the venue's capabilities (native order types, fees)."""
        return self.venue.capabilities()

    def submit(self, order: Order) -> Order:
        """Send ``order`` to the venue; when it comes back (partly) filled, apply its fills to the ledger at once.

        Otherwise the ledger would still hold the position a market exit just sold until the
        bar's poll, and the protective stop placed for it in between would be refused by the
        venue (no balance left).
        """
        placed = self.venue.submit(order)
        if placed.filled_quantity > 0:
            self.poll()
        else:
            self.unpolled = True
        return placed

    def cancel(self, client_order_id: str) -> Order:
        """Cancel at the venue."""
        return self.venue.cancel(client_order_id)

    def replace(self, client_order_id: str, **changes: Any) -> Order:
        """Amend at the venue."""
        return self.venue.replace(client_order_id, **changes)

    def get_order(self, client_order_id: str) -> Order:
        """Look an order up at the venue by our client ID."""
        return self.venue.get_order(client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return the venue's open orders."""
        return self.venue.open_orders(symbol)

    def positions(self) -> list[Position]:
        """Return the ledger's positions (equal to the venue's after each reconciliation)."""
        return [p for p in self.portfolio.positions.values() if abs(p.quantity) > 1e-12]

    def balances(self) -> list[Any]:
        """Return the venue's balances."""
        return self.venue.balances()

    def fills(self) -> list[Fill]:
        """Return the venue fills this process applied to the ledger, in order (the recorder stores the new ones)."""
        return list(self._fills)

    @property
    def fill_log(self) -> list[Fill]:
        """The applied fills themselves, not a copy (read only): per-tick code slices the new ones off the end."""
        return self._fills

    # -- driving ---------------------------------------------------------------------------
    def on_bars(self, bars: list[Bar]) -> None:
        """Mark the ledger at the bars' closes; the fills since the last bar are already applied.

        The engine marks the book itself only for a broker without ``on_bars``, so this must:
        unmarked, equity, drawdown and the risk engine's exposure would stay at the first
        fill's price. No poll here: the loop polls right after each bar's orders and reconciles
        at the start of each tick, so a poll would ask the venue a second time within the same
        moment (a request per bar the venue's rate limit pays for).
        """
        for bar in bars:
            self.portfolio.mark_bar(bar)

    def _venue_fills(self) -> list[Fill]:
        """Return the venue's fills from :data:`FILL_OVERLAP` before the newest one applied (all of them before the first)."""
        since = self._last_fill - FILL_OVERLAP if self._last_fill is not None else None
        return self.venue.fills(since=since)

    def poll(self, fills: list[Fill] | None = None) -> int:
        """Apply every venue fill not applied yet (once each, by fill ID); return how many were new.

        ``fills`` is a list the caller has just fetched (one request per tick, not two).
        """
        self.unpolled = False
        new = [f for f in (self._venue_fills() if fills is None else fills) if f.fill_id not in self._seen]
        for fill in sorted(new, key=lambda f: (f.ts, f.fill_id)):
            self._seen.add(fill.fill_id)
            self.portfolio.apply_fill(fill)
            self._fills.append(fill)
            self._last_fill = fill.ts if self._last_fill is None else max(self._last_fill, fill.ts)
        return len(new)

    def reconcile(self, manager: OrderManager) -> dict[str, Any]:
        """Make orders, fills, positions and cash equal to the venue's; audit every difference.

        Orders: the manager's reconciliation (status changes, orders unknown at the venue,
        open orders we did not know), plus orders that filled at the venue while this
        process was not looking (a crash after sending, before storing). Fills: applied once.
        Positions and cash: the venue's numbers replace the ledger's where they differ.
        """
        report = manager.reconcile()  # looks up every order it works that the venue no longer lists as open
        adopted: list[str] = []
        fills = self._venue_fills()
        for cid in dict.fromkeys(f.client_order_id for f in fills if f.fill_id not in self._seen):
            if manager.get(cid) is None and manager._known(cid) is None:
                try:
                    manager._record(self.venue.get_order(cid), RECONCILED, adopted=True, source="venue fills")
                    adopted.append(cid)
                except (OrderNotFound, BrokerError):
                    pass
        new_fills = self.poll(fills)
        differences: list[str] = []
        pf = self.portfolio
        cash, currency = venue_cash(self.venue.balances(), self.quote)
        if not math.isclose(cash, pf.cash, rel_tol=1e-9, abs_tol=1e-6):
            differences.append(f"cash: ours {pf.cash:.6f}, venue {cash:.6f} {currency}")
            pf.cash = cash
        theirs = {p.symbol: p for p in self.venue.positions()}
        for symbol in sorted(set(theirs) | {s for s, p in pf.positions.items() if abs(p.quantity) > 1e-12}):
            ours = pf.positions.get(symbol)
            q_ours = ours.quantity if ours else 0.0
            q_theirs = theirs[symbol].quantity if symbol in theirs else 0.0
            if not math.isclose(q_ours, q_theirs, rel_tol=1e-9, abs_tol=1e-9):
                differences.append(f"{symbol}: ours {q_ours:g}, venue {q_theirs:g}")
                avg = ours.avg_price if ours is not None and ours.avg_price else theirs[symbol].avg_price if symbol in theirs else 0.0
                pf.positions[symbol] = Position(symbol, q_theirs, avg)
        changed = {"updated": report.updated, "missing": report.missing, "adopted": report.adopted + adopted,
                   "new_fills": new_fills, "differences": differences}
        if differences or report.changed or adopted:
            self.store.audit("reconcile_difference", f"{self.name}: venue differs from the loop's book; the venue's numbers are kept", changed)
        return changed


# -- the loop's hooks (kept here so the paper path in core.trading.loop stays as it was) ----------
def venue_session(ports: Any, session: dict[str, Any]) -> dict[str, Any]:
    """Return what a new session pins about its venue: ``broker`` (the name), ``venue`` (name and endpoint kind), cash, lot sizes.

    On a real venue the session's starting cash is the venue's cash balance, not ``trading.cash``.
    """
    name = ports.venue()
    if name == "paper" or ports.build_venue is None:
        return {"broker": "paper", "venue": "paper"}
    venue = ports.build_venue({**session, "broker": name})
    cash, currency = venue_cash(venue.balances(), getattr(venue, "quote", None))
    # The venue's lot sizes, so the backtest-vs-live diff sizes its orders as the venue did.
    rules = (getattr(venue.capabilities(), "extra", None) or {}).get("rules") or {}
    lots = {s: float(r["lot_size"]) for s, r in rules.items() if s in session["symbols"] and r.get("lot_size")}
    return {"broker": name, "venue": f"{name} ({venue_kind(venue)})", "cash": cash, "currency": currency, "lots": lots}


def venue_book(loop: Any, session: dict[str, Any]) -> VenueBook:
    """Return the venue wrapped as the loop's broker, its ledger restored from the store (or started at the venue's cash)."""
    from core.portfolio import repo as portfolio_repo

    venue = loop.ports.build_venue(session)
    portfolio = portfolio_repo.load_state(loop.store, loop.account) or Portfolio(cash=float(session["cash"]), account=loop.account,
                                                                                 currency=session.get("currency", "USD"))
    stored = portfolio_repo.load_fills(loop.store, loop.account)
    return VenueBook(venue, portfolio, {f.fill_id for f in stored}, loop.store, last_fill=stored[-1].ts if stored else None)


def _no_orders(order: Order, context: Any = None) -> Any:
    raise RuntimeError("no order may be sent while the loop is being built")


def recover_from_venue(loop: Any) -> None:
    """Rebuild a loop that trades a real venue: stored orders (emulated ones re-armed), then reconcile with the venue.

    Nothing is replayed: the strategy warms up on every stored bar, the venue says what
    happened to our orders while this process was not running, and deterministic client
    IDs mean a bar processed again finds its orders (``OrderManager.submit`` looks them up
    by client ID in the store, where reconciliation put them) instead of sending them twice.
    """
    from core.engine import engine_risk_hook
    from core.portfolio import repo as portfolio_repo
    from core.trading.feeds import data_gate

    loop._build(_no_orders)
    loop.manager.store = loop.store
    loop.manager.restore()
    loop.manager.risk_check = loop.timer.wrap("risk", data_gate(engine_risk_hook(loop.risk, loop.engine), lambda: loop.halt,
                                                                loop.broker.portfolio))
    loop.recorder = portfolio_repo.PortfolioRecorder(loop.store, loop.broker.portfolio, fills_seen=0)
    last = loop.last_processed
    reconcile_tick(loop)
    drain = getattr(loop.strategy, "drain_signals", None)
    if drain is not None:
        drain()
    loop.store.audit("recovery", f"{loop.broker.name}: reconciled with the venue" + (f" after bar {last.isoformat()}" if last is not None else ""),
                     {"orders": len(loop.manager), "cash": loop.broker.portfolio.cash})
    loop._done = last
    loop.ready = True


def reconcile_tick(loop: Any) -> dict[str, Any]:
    """Reconcile the loop's orders, fills, positions and cash with the venue and store the result in one transaction."""
    with loop.store.transaction():
        changed = loop.broker.reconcile(loop.manager)
        loop.recorder.flush(loop.broker.fill_log, loop.clock.now())
    return changed


def reconcile_account(venue: Broker, store: Store, account: str | None = None, *, clock: Clock | None = None) -> dict[str, Any]:
    """Reconcile a venue account with the store when no loop drives it (a host's start, a check from the CLI).

    The one reconciler: the same :meth:`VenueBook.reconcile` (with the order manager's) that
    the loop runs on every tick, over the account's stored orders, fills and ledger, written
    in one transaction. Orders the venue lists that the store lacks are adopted; stored live
    orders get the venue's state; every new fill is stored once; cash and positions become
    the venue's. Returns what changed (``updated``, ``missing``, ``adopted``, ``new_fills``,
    ``differences``); calling it again without news from the venue changes nothing.
    """
    from core.portfolio import repo as portfolio_repo

    account = account or str(getattr(venue, "name", "venue"))
    clock = clock or store.clock or SystemClock()
    stored = portfolio_repo.load_fills(store, account)
    portfolio = portfolio_repo.load_state(store, account)
    if portfolio is None:  # first sight of the account: its cash before the fills we are about to apply is unknown; the venue's wins below
        cash, currency = venue_cash(venue.balances(), getattr(venue, "quote", None))
        portfolio = Portfolio(cash=cash, account=account, currency=currency)
    book = VenueBook(venue, portfolio, {f.fill_id for f in stored}, store, last_fill=stored[-1].ts if stored else None)
    manager = OrderManager(book, clock, _no_orders, store=store, account=account, reconcile_on_start=False)
    with store.transaction():
        changed = book.reconcile(manager)
        portfolio_repo.PortfolioRecorder(store, portfolio).flush(book.fills(), clock.now())
    log.info("reconciled %s: %d updated, %d missing, %d adopted, %d new fills, %d differences", account, len(changed["updated"]),
             len(changed["missing"]), len(changed["adopted"]), changed["new_fills"], len(changed["differences"]))
    return changed
