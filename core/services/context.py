"""The process-wide context the facade works in: settings, store, clock, providers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from core.clock import Clock, SystemClock
from core.config import Settings, load_settings
from core.data.providers import SampleProvider
from core.log import setup_logging
from core.store import Store


@dataclass
class Context:
    """Everything a service call needs; build with :func:`get_context` or directly in tests."""

    settings: Settings
    store: Store
    clock: Clock
    sample: SampleProvider
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings | None = None, clock: Clock | None = None, console_log: bool = False) -> Context:
        """Build a context from ``settings`` (loaded and validated when omitted)."""
        settings = settings or load_settings()
        setup_logging(settings, console=console_log)
        clock = clock or SystemClock()
        from core.strategies import user

        user.configure(settings.path(settings.strategies.dir))
        return cls(
            settings=settings,
            store=Store(settings.database_url, clock=clock),
            clock=clock,
            sample=SampleProvider(settings.path(settings.data.sample_dir)),
        )


_lock = threading.Lock()
_current: Context | None = None


def get_context() -> Context:
    """Return the process-wide context, creating it on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = Context.create()
        return _current


def set_context(ctx: Context | None) -> None:
    """Install ``ctx`` as the process-wide context (tests, the CLI, notebooks)."""
    global _current
    with _lock:
        _current = ctx
