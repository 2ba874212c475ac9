"""Persistent risk state: halts and the kill switch live in the settings table.

They are read from the store on every check, so a kill switch engaged in the
app process stops the trading job at its next order, and every halt survives a
restart. :class:`MemoryStore` stands in for the database in backtests and tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from core.clock import Clock

KEY_KILL = "risk.kill_switch"
KEY_DRAWDOWN = "risk.halt.drawdown"
KEY_DAILY = "risk.halt.daily"
# Set by the model-health check (core.models.drift) when models.drift.block_entries is on.
DRIFT_HALT_KEY = "risk.model_drift_halt"


class RiskStore(Protocol):
    """The part of :class:`core.store.Store` the risk engine uses."""

    def get_setting(self, key: str, default: Any = None) -> Any: ...

    def set_setting(self, key: str, value: Any) -> None: ...

    def audit(self, kind: str, message: str, data: dict | None = None, actor: str = "system", ts: datetime | None = None) -> None: ...


class MemoryStore:
    """An in-memory :class:`RiskStore` (backtests, tests); ``entries`` is the audit log."""

    def __init__(self) -> None:
        self.settings: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []

    def get_setting(self, key: str, default: Any = None) -> Any:
        """Return the value of ``key`` or ``default``."""
        return self.settings.get(key, default)

    def set_setting(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``."""
        self.settings[key] = value

    def audit(self, kind: str, message: str, data: dict | None = None, actor: str = "system", ts: datetime | None = None) -> None:
        """Append an audit entry."""
        self.entries.append({"kind": kind, "message": message, "data": data or {}, "actor": actor, "ts": ts})


class RiskState:
    """Read and change the persisted halts and kill switch."""

    def __init__(self, store: RiskStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._memo: dict[str, Any] | None = None

    # -- one read per bar ------------------------------------------------------------------
    def hold(self) -> None:
        """Read each setting from the store at most once until :meth:`release` (the paper loop holds one bar).

        Every check of a bar then sees the same halts without four database reads per order;
        halts this engine sets are written through, so later checks of the bar see them too.
        A change made elsewhere (the app's kill switch) is seen from the next bar on.
        """
        self._memo = {}

    def release(self) -> None:
        """Read the store on every access again."""
        self._memo = None

    def _get(self, key: str) -> Any:
        memo = self._memo
        if memo is None:
            return self.store.get_setting(key)
        if key not in memo:
            memo[key] = self.store.get_setting(key)
        return memo[key]

    def _set(self, key: str, value: Any) -> None:
        self.store.set_setting(key, value)
        if self._memo is not None:
            self._memo[key] = value

    def model_drift(self) -> dict[str, Any]:
        """Return the model-drift halt record (``active`` True while new entries are refused)."""
        return dict(self._get(DRIFT_HALT_KEY) or {})

    # -- kill switch -------------------------------------------------------------------------
    def kill_switch(self) -> dict[str, Any]:
        """Return the kill switch record (``{"engaged": False}`` when never used)."""
        return dict(self._get(KEY_KILL) or {"engaged": False})

    def set_kill_switch(self, engaged: bool, actor: str, reason: str = "") -> None:
        """Engage or re-arm the kill switch and audit who did it."""
        now = self.clock.now()
        self._set(KEY_KILL, {"engaged": engaged, "since": now.isoformat(), "actor": actor, "reason": reason})
        verb = "engaged" if engaged else "re-armed"
        self.store.audit("risk", f"kill switch {verb} by {actor}" + (f": {reason}" if reason else ""), {"event": f"kill_switch_{verb}"}, actor=actor, ts=now)

    # -- drawdown halt ---------------------------------------------------------------------------
    def drawdown(self) -> dict[str, Any]:
        """Return the drawdown-halt record (``active`` False when trading may add risk)."""
        return dict(self._get(KEY_DRAWDOWN) or {"active": False})

    def halt_drawdown(self, equity: float, peak: float, limit: float) -> None:
        """Record a drawdown halt; only :meth:`reset_drawdown` lifts it."""
        now = self.clock.now()
        record = self.drawdown()
        record.update(active=True, since=now.isoformat(), equity=equity, peak=peak, limit=limit)
        self._set(KEY_DRAWDOWN, record)
        msg = f"drawdown halt: equity {equity:,.2f} is {1 - equity / peak:.2%} below peak {peak:,.2f} (limit {limit:.0%}); a person must reset it"
        self.store.audit("risk", msg, {"event": "halt_drawdown", "equity": equity, "peak": peak}, ts=now)

    def reset_drawdown(self, actor: str, equity: float) -> None:
        """Lift the drawdown halt; drawdowns are then measured from ``equity`` (or later highs)."""
        now = self.clock.now()
        self._set(KEY_DRAWDOWN, {"active": False, "reset_at": now.isoformat(), "reset_by": actor, "baseline": equity})
        self.store.audit("risk", f"drawdown halt reset by {actor} at equity {equity:,.2f}", {"event": "reset_drawdown", "equity": equity}, actor=actor, ts=now)

    def raise_baseline(self, equity: float) -> None:
        """Move the post-reset high-water mark up to ``equity``."""
        record = self.drawdown()
        record["baseline"] = equity
        self._set(KEY_DRAWDOWN, record)

    # -- daily loss halt ------------------------------------------------------------------------------
    def daily_halted(self) -> bool:
        """Return True when the daily loss cap was hit on the clock's current UTC day."""
        record = self._get(KEY_DAILY) or {}
        return record.get("day") == self.clock.now().date().isoformat()

    def halt_daily(self, equity: float, day_start: float, limit: float) -> None:
        """Record a daily-loss halt for the rest of the current UTC day."""
        now = self.clock.now()
        self._set(KEY_DAILY, {"day": now.date().isoformat(), "since": now.isoformat(), "equity": equity, "day_start": day_start})
        msg = f"daily loss halt until the end of {now.date()} UTC: equity {equity:,.2f} is {1 - equity / day_start:.2%} below the day's start (cap {limit:.1%})"
        self.store.audit("risk", msg, {"event": "halt_daily", "equity": equity, "day_start": day_start}, ts=now)

    def status(self) -> dict[str, Any]:
        """Return every halt and the kill switch, for the UI and the CLI."""
        return {"kill_switch": self.kill_switch(), "drawdown_halt": self.drawdown(), "daily_halt": self.daily_halted()}
