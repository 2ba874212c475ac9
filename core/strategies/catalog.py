"""What the registry lists besides the built-ins: the library's signals and the user's files, described alike."""

from __future__ import annotations

import inspect
from functools import cache
from typing import Any

from core.strategies.library import LIBRARY
from core.strategies.vectorised import SignalStrategy, Strategy, signal_strategy


@cache
def library_strategies() -> dict[str, type[SignalStrategy]]:
    """Return the library's strategies (``core.strategies.library``) as strategy classes by name."""
    return {name: signal_strategy(m.signals, name=name, params=m.PARAMS, warmup=m.warmup, source=m.__file__, doc=m.__doc__)
            for name, m in LIBRARY.items()}


def describe(cls: type[Strategy], origin: str) -> dict[str, Any]:
    """Return a JSON-ready description: name, origin (built-in, library, user), kind (signals, event), parameters, source, summary."""
    doc = inspect.getdoc(cls) or ""
    return {
        "name": cls.name, "origin": origin, "kind": "signals" if issubclass(cls, SignalStrategy) else "event",
        "params": dict(cls.defaults), "source": getattr(cls, "source", None), "summary": doc.strip().splitlines()[0] if doc.strip() else "",
    }  # fmt: skip


def merged(builtins: dict[str, type[Strategy]], directory: Any = None) -> tuple[dict[str, type[Strategy]], dict[str, str], list[str]]:
    """Return every strategy by name (built-ins, then the library, then the user's files), each name's origin, and the user files' errors.

    A user strategy never replaces a built-in or library one: the clash is reported as an error instead.
    """
    from core.strategies.user import user_strategies

    out: dict[str, type[Strategy]] = dict(builtins)
    origin = dict.fromkeys(builtins, "built-in")
    for name, cls in library_strategies().items():
        out.setdefault(name, cls)
        origin.setdefault(name, "library")
    found, broken = user_strategies(directory)
    errors = [b.error for b in broken if b.error]
    for name, cls in found.items():
        if name in out:
            errors.append(f"{getattr(cls, 'source', name)}:1: the name '{name}' is taken by a {origin[name]} strategy; rename the file or the class")
            continue
        out[name] = cls
        origin[name] = "user"
    return out, origin, errors


def as_strategy(strategy: Any, params: dict[str, Any] | None, lookup: Any) -> Strategy:
    """Return a strategy instance from a name (via ``lookup(name, **params)``), an instance, a Strategy class or a signals function."""
    params = dict(params or {})
    if isinstance(strategy, str):
        return lookup(strategy, **params)
    if isinstance(strategy, Strategy):
        if params:
            raise ValueError("give params when passing a strategy name, class or function; an instance already has its parameters")
        return strategy
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        return strategy(**params)
    if callable(strategy):
        return signal_strategy(strategy)(**params)
    raise ValueError(f"strategy must be a name, a Strategy class or instance, or a signals(bars, **params) function, not {type(strategy).__name__}")
