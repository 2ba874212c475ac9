"""Strategies: the built-in ones (``buy_and_hold``, ``sma_cross``, ``ensemble``) and the registry by name."""

from core.strategies.registry import make_strategy, register, strategies

__all__ = ["make_strategy", "register", "strategies"]
