"""Risk: metrics, VaR/CVaR, pre-trade limits (the risk engine) and the kill switch.

The engine's inputs are this package's own values (:class:`OrderIntent`,
:class:`PortfolioState`, :class:`MarketState`); :mod:`core.risk.hook` adapts the
order manager's orders. ``metrics``, ``var`` and ``var_backtest`` are modules of
functions: ``from core.risk import metrics, var``.
"""

from core.risk.hook import make_risk_check, order_to_intent, risk_check
from core.risk.kill_switch import KillSwitch
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.state import MemoryStore, RiskState
from core.risk.types import MarketState, OrderIntent, PortfolioState

__all__ = [
    "KillSwitch",
    "MarketState",
    "MemoryStore",
    "OrderIntent",
    "PortfolioState",
    "RiskEngine",
    "RiskLimits",
    "RiskState",
    "make_risk_check",
    "order_to_intent",
    "risk_check",
]
