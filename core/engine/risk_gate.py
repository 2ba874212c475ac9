"""The risk gate: the engine's book and market view checked by the risk engine before any order.

The risk hook sees the engine's own ledger and the bars released so far, so a
backtest and the paper loop ask the risk engine exactly the same questions.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from core.brokers.events import OrderDenied
from core.domain import Order, RiskAction, RiskDecision
from core.engine.engine import Engine, lot_for
from core.portfolio.portfolio import Portfolio
from core.risk.hook import RiskCheck, make_risk_check
from core.risk.limits import RiskEngine
from core.risk.types import MarketState, PortfolioState, ReturnsWindow

RETURNS_WINDOW = 260


def portfolio_state(pf: Portfolio, now: datetime | None, pending: list[Order] | None = None) -> PortfolioState:
    """Return the risk view of a ledger: equity, cash, high-water mark and start-of-day equity.

    ``pending`` orders (sent, not yet filled) count as if filled: otherwise a reversal sent as
    "close the long" plus "open a short" would be checked against the long that the first
    order is about to remove, and the pair could end past the position limit. Exits that
    wait for a parent, share an OCO group or are a position's protective stop only reduce
    risk and are left out.
    """
    equity = pf.equity()
    peak = pf.peak_equity()
    day_start = pf.day_start_equity(now) if now is not None else equity
    book = {s: [p.quantity, pf.last_price(s) or p.avg_price] for s, p in pf.positions.items()}
    for order in pending or ():
        if order.parent_id or order.oco_group or order.tags.get("protective") or order.tags.get("emulates"):
            continue
        entry = book.setdefault(order.symbol, [0.0, pf.last_price(order.symbol) or order.limit_price or order.stop_price or 0.0])
        entry[0] += order.side.sign * order.remaining
    positions = {s: (q, px) for s, (q, px) in book.items() if abs(q) > 1e-12}
    return PortfolioState(equity, pf.cash, peak, day_start, positions)


def market_state(engine: Engine, window: int = RETURNS_WINDOW) -> MarketState:
    """Return the last ``window`` simple returns of every symbol (aligned by timestamp) and last prices.

    The cost is fixed by ``window``, not by the length of the history. When every symbol has
    the same recent timestamps (the usual case) the frame is built from one array; otherwise
    the series are aligned on the union of their timestamps (gaps are NaN).
    """
    prices: dict[str, float] = {}
    cols: list[str] = []
    rets: list[np.ndarray] = []
    hists = []
    for symbol, hist in engine.histories.items():
        n = len(hist)
        if n == 0:
            continue
        close = hist.close[max(0, n - window - 1) :]
        prices[symbol] = float(close[-1])
        if len(close) > 1:
            cols.append(symbol)
            rets.append(np.diff(close) / close[:-1])
            hists.append(hist)
    if not cols:
        return MarketState(returns=None, prices=prices)
    if all(hists[0].same_recent(h, window + 1) for h in hists[1:]):
        # One aligned array; the checks read it directly and a DataFrame is built only if someone asks for one.
        return MarketState(prices=prices, window=ReturnsWindow(np.column_stack(rets), tuple(cols), hists[0].timestamps(last=window + 1)[1:]))
    stamps = [h.timestamps(last=window + 1) for h in hists]
    series = {s: pd.Series(r, index=pd.DatetimeIndex(ts[1:])) for s, r, ts in zip(cols, rets, stamps, strict=True)}
    return MarketState(returns=pd.DataFrame(series), prices=prices)


def engine_risk_hook(risk: RiskEngine, engine: Engine) -> RiskCheck:
    """Return the order manager's pre-trade hook: ``risk`` checks every order against ``engine``'s book.

    The book includes orders already sent but not yet filled, and a shrunk quantity is
    rounded down to the instrument's lot.
    """

    cache: dict[str, object] = {}

    def market() -> MarketState:
        # The returns history changes once per bar, not per order: build it once per bar.
        key = (engine.ctx.now, engine.bars_seen)
        if cache.get("key") != key:
            cache["key"], cache["market"] = key, market_state(engine)
        return cache["market"]  # type: ignore[return-value]

    def hook(order: Order, context: object = None) -> RiskDecision:
        pending = [o for o in engine.manager.open_orders() if o.client_order_id != order.client_order_id]  # open orders only
        check = make_risk_check(risk, lambda: portfolio_state(engine.portfolio, engine.ctx.now, pending), market,
                                lot_size=lot_for(order.symbol, engine.broker))
        return check(order, context)

    return hook


def recorded_decisions(stored: dict[str, Order], denied: dict[str, OrderDenied]) -> RiskCheck:
    """Return a hook that repeats the decisions already taken (used to rebuild state after a restart).

    An order in ``denied`` (the stored :class:`OrderDenied` events) is vetoed again with the
    same reason and limit; any other stored order is approved at its stored (possibly shrunk)
    quantity.
    """

    def hook(order: Order, context: object = None) -> RiskDecision:
        past = stored.get(order.client_order_id)
        if past is None:
            return RiskDecision(RiskAction.APPROVE, order.quantity, "replay: not stored")
        denial = denied.get(order.client_order_id)
        if denial is not None:
            return RiskDecision(RiskAction.VETO, 0.0, denial.reason, (denial.limit,) if denial.limit else ("replay",))
        if past.quantity < order.quantity - 1e-12:
            return RiskDecision(RiskAction.SHRINK, past.quantity, "replay", ("replay",))
        return RiskDecision(RiskAction.APPROVE, order.quantity, "replay", ("replay",))

    return hook
