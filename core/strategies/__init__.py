"""Strategies: the built-in ones (``buy_and_hold``, ``sma_cross``, ``ensemble``) and the registry by name."""

from core.strategies import builtin, ensemble  # noqa: F401  (registers the built-ins)
from core.strategies.registry import make_strategy, register, strategies

__all__ = ["make_strategy", "register", "strategies"]
