"""Wall time per stage of a trading tick (the status strip and bench/tick.py show it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class Timer:
    """Accumulate wall time per pipeline stage (for the dashboard and bench/tick.py)."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``fn`` with its wall time added to stage ``name`` on every call."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, (time.perf_counter() - t0) * 1000)

        return timed

    def add(self, name: str, ms: float) -> None:
        """Add ``ms`` milliseconds to stage ``name``."""
        self.ms[name] = self.ms.get(name, 0.0) + ms
