"""The strategy base class: the decision code shared by backtests and paper trading.

A strategy follows scikit-learn conventions: ``__init__`` only stores the
parameters (unknown names fail with "did you mean"), ``get_params`` returns
them. On every bar the engine calls :meth:`Strategy.on_bar` with a
:class:`StrategyContext` whose history ends at the current bar, so looking
ahead is impossible by construction.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, MutableMapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from core.engine.engine import StrategyContext


class StrategyError(ValueError):
    """A strategy name or parameter is wrong; the message says what would be right."""


class Strategy:
    """Base class: subclasses set ``name`` and ``defaults`` and implement :meth:`on_bar`."""

    name: ClassVar[str] = "strategy"
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        for key in params:
            if key not in self.defaults:
                raise StrategyError(unknown_message("parameter", key, list(self.defaults), f" for strategy {self.name}"))
        values = {**self.defaults, **params}
        for key, default in self.defaults.items():
            values[key] = _coerce(key, values[key], default)
        self.params = values
        self.validate()

    def validate(self) -> None:
        """Check parameter values together; raise :class:`StrategyError` with a fix."""

    def get_params(self) -> dict[str, Any]:
        """Return the parameters (scikit-learn convention)."""
        return dict(self.params)

    def min_bars(self) -> int:
        """Return the fewest bars on which this strategy can place and fill one order (a backtest refuses fewer)."""
        return 2

    def on_start(self, ctx: StrategyContext) -> None:
        """Prepare before the first bar (optional)."""

    def on_bar(self, ctx: StrategyContext) -> None:
        """Decide on the newest bar: call ``ctx.target(...)`` or ``ctx.submit(...)``."""
        raise NotImplementedError

    def fast_targets(self, close: np.ndarray, memo: MutableMapping[Hashable, np.ndarray] | None = None) -> np.ndarray | None:
        """Return per-bar targets for the compiled fast path, or None if this strategy has none.

        The targets must be exactly what :meth:`on_bar` would request: +1/-1/0
        for long/short/flat, 2 for no decision. ``memo`` (optional) is a mapping that belongs
        to ``close``, where indicators may be kept for other parameter sets on the same bars
        (a sweep's trials); a strategy may ignore it.
        """
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


def _coerce(key: str, value: Any, default: Any) -> Any:
    if default is None or isinstance(value, type(default)):
        return value
    try:
        if isinstance(default, bool):
            if str(value).lower() in ("1", "true", "yes"):
                return True
            if str(value).lower() in ("0", "false", "no"):
                return False
            raise ValueError
        return type(default)(value)
    except (TypeError, ValueError):
        kind = type(default).__name__
        raise StrategyError(f"parameter {key}={value!r} should be {'an' if kind[0] in 'aeiou' else 'a'} {kind} like {default!r}") from None


def unknown_message(kind: str, word: str, choices: list[str], where: str = "") -> str:
    """Return an 'unknown X' message with a "did you mean" suggestion when one is close."""
    close = difflib.get_close_matches(word, choices, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown {kind} '{word}'{where}{hint} (choose from: {', '.join(sorted(choices))})"
