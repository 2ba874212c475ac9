"""The engine: what a backtest and the paper/live loop run, bar by bar.

``build_engine(strategy, symbols, broker, risk=..., clock=...)`` wires the strategy,
the broker, the order manager and a required risk check; :class:`Engine` steps it over
bars; :class:`History` is what a strategy sees; :mod:`core.engine.risk_gate` is the
view of the book and the market the risk engine checks every order against.
"""

from core.engine.build import build_engine, risk_check_for
from core.engine.engine import Engine, StrategyContext, default_lot, lot_for
from core.engine.history import History
from core.engine.protect import StopPolicy
from core.engine.risk_gate import engine_risk_hook, market_state, portfolio_state, recorded_decisions
from core.engine.strategy import Strategy, StrategyError
from core.risk.hook import UNLIMITED, Unlimited

__all__ = ["UNLIMITED", "Engine", "History", "StopPolicy", "Strategy", "StrategyContext", "StrategyError", "Unlimited", "build_engine", "default_lot",
           "engine_risk_hook", "lot_for", "market_state", "portfolio_state", "recorded_decisions", "risk_check_for"]
