"""What the trading loop is really doing, for the status strip and the alerts banner on every page.

Everything here is read from the store (the toggle, the loop's reported status, the
session, the risk halts), so any host, page, notebook or CLI sees the same truth.
The feed and venue come from the stored session (``session["feed"]``,
``session["venue"]``) or the loop's reported status; the replay of bundled history
and the paper venue are today's values, a live feed only fills those fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from core.services.context import Context, get_context
from core.trading import toggle

#: The states of the loop, in words for the strip.
STATE_LABELS = {
    "stopped": "stopped",
    "starting": "starting (waiting for the first tick)",
    "running": "running",
    "waiting_for_lease": "waiting for the lease",
    "halted": "halted",
    "market_closed": "market closed",
    "exhausted": "data exhausted",
    "not_ticking": "not ticking",
    "error": "error",
}
#: The loop counts as not ticking after this many tick intervals without a tick (at least a minute).
STALE_TICKS = 3


@dataclass(frozen=True)
class LoopState:
    """The loop's real state and what it trades (see :func:`loop_state`)."""

    state: str
    reason: str
    enabled: bool
    mode: str
    strategy: str
    symbols: list[str]
    venue: str
    feed: str
    feed_detail: str
    last_bar: pd.Timestamp | None
    last_bar_age: str
    last_tick_at: pd.Timestamp | None
    timezone: str = "UTC"
    halts: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """Return the state in words (with the reason when there is one)."""
        text = STATE_LABELS.get(self.state, self.state)
        return f"{text}: {self.reason}" if self.reason else text


def _ts(value: Any) -> pd.Timestamp | None:
    if not value:
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def age_text(seconds: float) -> str:
    """Return an age in words: ``"42 s"``, ``"5 min"``, ``"3 h"``, ``"2 days"``."""
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def halt_reasons(ctx: Context) -> list[str]:
    """Return why trading is halted, one phrase per halt (kill switch, drawdown, daily loss); empty when not halted."""
    from core.risk.state import RiskState

    state = RiskState(ctx.store, ctx.clock)
    out = []
    kill = state.kill_switch()
    if kill.get("engaged"):
        who = f" by {kill['actor']}" if kill.get("actor") else ""
        why = f" ({kill['reason']})" if kill.get("reason") else ""
        out.append(f"kill switch engaged{who}{why}")
    dd = state.drawdown()
    if dd.get("active"):
        out.append("drawdown halt" + (f" at equity {dd['equity']:,.2f}" if dd.get("equity") is not None else ""))
    if state.daily_halted():
        out.append("daily loss cap reached")
    return out


def _feed(session: dict[str, Any], status: dict[str, Any], cfg: Any, clock: pd.Timestamp | None) -> tuple[str, str]:
    feed = session.get("feed") or status.get("feed") or "replay"
    if feed != "replay":
        return feed, str(session.get("feed_detail") or status.get("feed_detail") or "")
    per_tick = int(session.get("bars_per_tick") or cfg.bars_per_tick)
    at = f"at {clock:%Y-%m-%d}" if clock is not None else "not started"
    return "replay of bundled history", f"{at} · {per_tick} bar{'s' if per_tick != 1 else ''}/tick"


def loop_state(ctx: Context | None = None) -> LoopState:
    """Return the loop's real state: what it trades, on which venue and feed, its last bar, and why it is not running.

    States: ``stopped``, ``starting``, ``running``, ``waiting_for_lease``, ``halted``
    (kill switch, drawdown, daily loss, stale data: the reason says which),
    ``market_closed``, ``exhausted`` (the replay has no more bars), ``not_ticking`` (the
    toggle is on but no host has ticked for a while) and ``error`` (the last tick failed).
    """
    ctx = ctx or get_context()
    cfg = ctx.settings.trading
    status = toggle.loop_status(ctx.store)
    session = ctx.store.get_setting(f"loop.{cfg.account}.session") or {}
    enabled = toggle.is_enabled(ctx.store)
    now = pd.Timestamp(ctx.clock.now())
    now = now.tz_localize("UTC") if now.tzinfo is None else now
    last_tick = _ts(status.get("last_tick_at"))
    last_bar = _ts(status.get("last_bar") or ctx.store.get_setting(f"loop.{cfg.account}.last_bar"))
    feed, detail = _feed(session, status, cfg, last_bar)
    if last_bar is None:
        bar_age = "no bar yet"
    elif feed == "replay of bundled history":
        bar_age = f"replayed {age_text((now - last_tick).total_seconds())} ago" if last_tick is not None else "replayed earlier"
    else:
        bar_age = f"{age_text((now - last_bar).total_seconds())} old"
    halts = halt_reasons(ctx)
    if status.get("stale"):
        halts.append(f"stale data ({status['stale']})" if isinstance(status["stale"], str) else "stale data")
    error_at = _ts(status.get("last_error_at"))
    state, reason = "stopped", ""
    if enabled:
        interval = max(ctx.settings.scheduler.tick_seconds * STALE_TICKS, 60.0)
        if status.get("last_error") and (last_tick is None or (error_at is not None and error_at >= last_tick)):
            state, reason = "error", str(status["last_error"])[:400]  # room for a file path and line
        elif status.get("waiting_for_lease"):
            state, reason = "waiting_for_lease", f"held by {status['waiting_for_lease']}"
        elif halts:
            state, reason = "halted", "; ".join(halts)
        elif status.get("exhausted"):
            state, reason = "exhausted", "the replay has released its last bar"
        elif status.get("market_closed"):
            state, reason = "market_closed", str(status.get("market_closed") if isinstance(status.get("market_closed"), str) else "")
        elif last_tick is None:
            state, reason = "starting", str(status.get("preparing") or "")
        elif (now - last_tick).total_seconds() > interval:
            state, reason = "not_ticking", f"no tick for {age_text((now - last_tick).total_seconds())}"
        else:
            state = "running"
    return LoopState(
        state=state, reason=reason, enabled=enabled, mode=ctx.settings.mode.value,
        strategy=str(session.get("strategy") or cfg.strategy),
        symbols=[str(s) for s in (session.get("symbols") or [s.upper() for s in cfg.symbols])],
        venue=str(session.get("venue") or status.get("venue") or "paper"), feed=feed, feed_detail=detail,
        last_bar=last_bar, last_bar_age=bar_age, last_tick_at=last_tick, halts=halts,
    )  # fmt: skip


def format_ts(value: datetime | pd.Timestamp | str | None, with_time: bool | None = None) -> str:
    """Return a timestamp for the screen: ``2004-05-03`` for midnight bars, else ``2004-05-03 14:30 UTC``; ``—`` for none."""
    ts = _ts(value)
    if ts is None:
        return "—"
    if with_time is None:
        with_time = ts != ts.normalize()
    return f"{ts:%Y-%m-%d %H:%M} UTC" if with_time else f"{ts:%Y-%m-%d}"


def format_pct(fraction: float | None, digits: int = 2, sign: bool = False) -> str:
    """Return a fraction as a percentage for the screen, the one convention of every page: ``0.0512`` -> ``5.12 %``; ``—`` for none/NaN."""
    if fraction is None or fraction != fraction:
        return "—"
    return f"{fraction * 100:{'+' if sign else ''}.{digits}f} %"
