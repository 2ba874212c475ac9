"""The kill switch: flatten every position and halt trading until a person re-arms it."""

from __future__ import annotations

from core.domain import OrderType, Side
from core.risk._bounds import EPS
from core.risk.state import RiskState
from core.risk.types import OrderIntent, PortfolioState


class KillSwitch:
    """Engage and re-arm the kill switch stored in the settings table.

    While engaged the :class:`~core.risk.limits.RiskEngine` vetoes every order that
    adds risk; the closing orders returned by :meth:`engage` only reduce positions,
    so the engine approves them. The order manager sends them (market orders).
    """

    def __init__(self, state: RiskState) -> None:
        self.state = state

    @property
    def engaged(self) -> bool:
        """Return True while trading is halted by the kill switch."""
        return bool(self.state.kill_switch().get("engaged"))

    def engage(self, portfolio: PortfolioState, reason: str = "manual", actor: str = "user") -> list[OrderIntent]:
        """Halt trading and return one market order closing each open position.

        The halt is stored before the orders are built, so no new risk can slip in
        between. Orders are sorted by symbol; ``client_order_id`` is
        ``kill-<epoch seconds>-<symbol>`` (idempotent per engagement).
        """
        self.state.set_kill_switch(True, actor, reason)
        stamp = int(self.state.clock.now().timestamp())
        orders = []
        for symbol, (qty, price) in sorted(portfolio.positions.items()):
            if abs(qty) <= EPS:  # float dust from partial closes: the engine treats it as flat too
                continue
            side = Side.SELL if qty > 0 else Side.BUY
            orders.append(
                OrderIntent(
                    symbol, side, abs(qty), price, OrderType.MARKET, client_order_id=f"kill-{stamp}-{symbol}", reason="kill switch", tags={"kill_switch": True}
                )
            )
        return orders

    def rearm(self, actor: str = "user") -> None:
        """Allow trading again (a person's decision, audited)."""
        self.state.set_kill_switch(False, actor)
