"""The data halts in the order path: stale data blocks new risk, a closed market blocks every order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.domain import Order, RiskAction, RiskDecision
from core.risk.hook import RiskCheck


def data_gate(inner: RiskCheck, halt: Callable[[], str | None], portfolio: Any) -> RiskCheck:
    """Return ``inner`` behind the loop's data halts.

    ``halt()`` is ``None``, ``"stale data"`` (an order that opens or adds to a position is
    vetoed; one that only reduces goes on to the risk engine) or ``"market closed"`` (every
    order is vetoed). The veto is recorded like any risk decision, so a replay repeats it.
    """

    def check(order: Order, context: Any = None) -> RiskDecision:
        state = halt()
        if state == "market closed":
            return RiskDecision(RiskAction.VETO, 0.0, "market closed: no orders outside the exchange's session", ("market_hours: veto",))
        if state == "stale data":
            pos = portfolio.positions.get(order.symbol)
            held = pos.quantity if pos is not None else 0.0
            if not (held * order.side.sign < 0 and order.quantity <= abs(held) + 1e-12):
                return RiskDecision(RiskAction.VETO, 0.0, "stale data: no new risk until fresh bars arrive", ("stale_data: veto",))
        return inner(order, context)

    return check
