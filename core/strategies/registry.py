"""The strategy registry: built-in and user strategies by name."""

from __future__ import annotations

from typing import Any

from core.engine.strategy import Strategy, StrategyError, unknown_message

_REGISTRY: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: make a strategy available by its ``name``."""
    _REGISTRY[cls.name] = cls
    return cls


def strategies() -> dict[str, type[Strategy]]:
    """Return the registered strategies by name."""
    return dict(_REGISTRY)


def make_strategy(name: str, **params: Any) -> Strategy:
    """Return the strategy ``name`` built with ``params``; unknown names get "did you mean"."""
    known = strategies()
    if name not in known:
        raise StrategyError(unknown_message("strategy", name, list(known)))
    return known[name](**params)

