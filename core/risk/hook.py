"""Adapters between the order manager and the risk engine.

The order manager calls ``risk_check(order, context) -> RiskDecision`` before it
sends any order. :func:`make_risk_check` builds such a function from an engine
and two providers of the current book and market data; :func:`risk_check` reads
them from a context object or mapping with ``risk_engine``, ``portfolio`` and
``market`` entries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from core.domain import Order, RiskAction, RiskDecision
from core.risk.limits import RiskEngine
from core.risk.types import MarketState, OrderIntent, PortfolioState

RiskCheck = Callable[[Order, Any], RiskDecision]

log = logging.getLogger(__name__)


class Unlimited:
    """The explicit "no limits" risk check: approves every order unchanged.

    Only for runs that must match a peer library without limits (the backtesting.py
    comparison, ``--risk permissive``). Nothing defaults to it: a caller passes
    :data:`UNLIMITED` by name. The first use in a process logs a warning.
    """

    warned = False

    def __call__(self, order: Order, context: Any = None) -> RiskDecision:
        """Approve ``order`` at its full quantity."""
        if not Unlimited.warned:
            Unlimited.warned = True
            log.warning("orders are running WITHOUT risk limits (explicit unlimited mode)")
        return RiskDecision(RiskAction.APPROVE, order.quantity, "unlimited: no risk limits", ("unlimited",))

    def __repr__(self) -> str:
        return "UNLIMITED"


#: Pass this as the risk check to run without limits (explicit, logged); there is no default.
UNLIMITED = Unlimited()


def order_to_intent(order: Order, portfolio: PortfolioState, market: MarketState, lot_size: float = 0.0) -> OrderIntent:
    """Return the intent for ``order``: price from the limit/stop price, else the market or the book.

    Raises
    ------
    ValueError
        When no price is known for a market order's symbol (pass it in ``MarketState.prices``).
    """
    price = order.limit_price or order.stop_price or market.prices.get(order.symbol)
    if price is None and order.symbol in portfolio.positions:
        price = portfolio.positions[order.symbol][1]
    if price is None:
        raise ValueError(f"no price for {order.symbol}: put its last price in MarketState.prices before the risk check")
    return OrderIntent(
        order.symbol,
        order.side,
        order.remaining or order.quantity,
        float(price),
        order.order_type,
        client_order_id=order.client_order_id,
        lot_size=lot_size,
        reason=order.reason or "",
        tags=dict(order.tags),
    )


def make_risk_check(engine: RiskEngine, portfolio: Callable[[], PortfolioState], market: Callable[[], MarketState], lot_size: float = 0.0) -> RiskCheck:
    """Return a ``risk_check(order, context)`` hook bound to ``engine`` and the two providers.

    ``context`` is ignored; the providers are called on every check so the
    decision always sees the current book.
    """

    def risk_check(order: Order, context: Any = None) -> RiskDecision:
        pf, mk = portfolio(), market()
        try:
            intent = order_to_intent(order, pf, mk, lot_size)
        except ValueError as exc:
            return RiskDecision(RiskAction.VETO, 0.0, str(exc), ("price: veto",))
        return engine.check(intent, pf, mk)

    return risk_check


def _get(context: Any, name: str) -> Any:
    if isinstance(context, Mapping):
        return context.get(name)
    return getattr(context, name, None)


def risk_check(order: Order, context: Any) -> RiskDecision:
    """Check ``order`` with the ``risk_engine``, ``portfolio`` and ``market`` found in ``context``.

    Each entry may be the value or a zero-argument callable returning it. A
    missing engine or portfolio vetoes: no order reaches a broker unchecked.
    """
    engine = _get(context, "risk_engine")
    portfolio = _get(context, "portfolio")
    market = _get(context, "market")
    portfolio = portfolio() if callable(portfolio) else portfolio
    market = (market() if callable(market) else market) or MarketState()
    if not isinstance(engine, RiskEngine) or not isinstance(portfolio, PortfolioState):
        return RiskDecision(RiskAction.VETO, 0.0, "risk check misconfigured: context needs risk_engine and portfolio", ("config: veto",))
    return make_risk_check(engine, lambda: portfolio, lambda: market)(order, context)
