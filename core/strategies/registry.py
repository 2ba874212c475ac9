"""The strategy registry: built-in, library and user strategies by name.

Built-ins register with :func:`register`; the library (:mod:`core.strategies.library`) and
the user's strategies folder (:mod:`core.strategies.user`) are merged in at every lookup,
so a file added to or changed in the folder is seen without a restart.
"""

from __future__ import annotations

from typing import Any

from core.engine.strategy import Strategy, StrategyError, unknown_message

_REGISTRY: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: make a strategy available by its ``name``."""
    _REGISTRY[cls.name] = cls
    return cls


def catalog() -> tuple[dict[str, type[Strategy]], dict[str, str], list[str]]:
    """Return every strategy by name, each name's origin (built-in, library, user) and the user files' errors."""
    from core.strategies.catalog import merged

    return merged(dict(_REGISTRY))


def strategies() -> dict[str, type[Strategy]]:
    """Return every strategy by name: built-in, library and the user's folder."""
    return catalog()[0]


def make_strategy(name: str, **params: Any) -> Strategy:
    """Return the strategy ``name`` built with ``params``; unknown names get "did you mean", a broken file its error."""
    known, _, errors = catalog()
    if name not in known:
        broken = [e for e in errors if f"/{name}.py:" in e or f"\\{name}.py:" in e]
        if broken:
            raise StrategyError(f"strategy '{name}' cannot be loaded: {broken[0]}")
        raise StrategyError(unknown_message("strategy", name, list(known)))
    return known[name](**params)

