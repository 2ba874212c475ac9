"""Backtesting: the event-driven engine shared with paper trading, built-in strategies, reports."""

from core.backtest.engine import Engine, StrategyContext
from core.backtest.run import BacktestResult, run_backtest
from core.backtest.strategy import History, Strategy, StrategyError, make_strategy, register, strategies

__all__ = ["BacktestResult", "Engine", "History", "Strategy", "StrategyContext", "StrategyError", "make_strategy", "register", "run_backtest", "strategies"]
