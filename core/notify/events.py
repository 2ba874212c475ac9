"""Notification events: what the bot did, named in the past tense, each with its UTC time."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.domain import Fill, RiskDecision


class EventKind(enum.StrEnum):
    FILL = "fill"
    RISK_VETO = "risk_veto"
    HALT = "halt"
    KILL_SWITCH = "kill_switch"
    LOOP_ERROR = "loop_error"
    DAILY_SUMMARY = "daily_summary"
    MODEL_DRIFT = "model_drift"
    LIVE_GAP = "live_gap"

    @property
    def critical(self) -> bool:
        """Return True for events that must go out even when the rate limit is reached."""
        return self in (EventKind.HALT, EventKind.KILL_SWITCH)


_ICON = {
    EventKind.FILL: "✅",
    EventKind.RISK_VETO: "⛔",
    EventKind.HALT: "🛑",
    EventKind.KILL_SWITCH: "🚨",
    EventKind.LOOP_ERROR: "⚠️",
    EventKind.DAILY_SUMMARY: "📊",
    EventKind.MODEL_DRIFT: "🧭",
    EventKind.LIVE_GAP: "↔️",
}


@dataclass(frozen=True, slots=True)
class NotifyEvent:
    """One message for the user: ``title`` is one line, ``lines`` the details."""

    kind: EventKind
    ts: datetime
    title: str
    lines: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """Return the plain-text message (same on every channel)."""
        stamp = self.ts.strftime("%Y-%m-%d %H:%M:%S UTC")
        return "\n".join([f"{_ICON[self.kind]} {self.title}", *self.lines, stamp])

    def subject(self) -> str:
        """Return a short subject line (e-mail)."""
        return f"[trading bot] {self.kind.value}: {self.title}"[:150]


def fill_event(fill: Fill) -> NotifyEvent:
    """Return the event for one execution."""
    return NotifyEvent(
        EventKind.FILL, fill.ts, f"Filled {fill.side.value} {fill.quantity:g} {fill.symbol} @ {fill.price:,.4g}",
        (f"order {fill.client_order_id} on {fill.venue}", f"fee {fill.fee:,.2f}"),
        {"fill_id": fill.fill_id, "symbol": fill.symbol, "side": fill.side.value, "quantity": fill.quantity, "price": fill.price},
    )


def risk_veto_event(symbol: str, decision: RiskDecision, ts: datetime, requested: float | None = None) -> NotifyEvent:
    """Return the event for an order intent the risk engine vetoed (or shrank)."""
    verb = "Vetoed" if decision.action.value == "veto" else "Shrank"
    lines = [f"reason: {decision.reason or 'n/a'}"]
    if requested is not None:
        lines.append(f"requested {requested:g}, allowed {decision.quantity:g}")
    return NotifyEvent(EventKind.RISK_VETO, ts, f"{verb} order for {symbol}", tuple(lines), {"symbol": symbol, "action": decision.action.value})


def halt_event(reason: str, ts: datetime) -> NotifyEvent:
    """Return the event for trading halted by a risk limit."""
    return NotifyEvent(EventKind.HALT, ts, "Trading halted", (f"reason: {reason}",), {"reason": reason})


def kill_switch_event(active: bool, ts: datetime, actor: str = "system", reason: str = "") -> NotifyEvent:
    """Return the event for the kill switch being engaged or released."""
    title = "Kill switch ENGAGED: all orders cancelled, no new orders" if active else "Kill switch released"
    return NotifyEvent(EventKind.KILL_SWITCH, ts, title, (f"by {actor}", *([f"reason: {reason}"] if reason else [])), {"active": active})


def loop_error_event(error: BaseException | str, ts: datetime, where: str = "trading loop") -> NotifyEvent:
    """Return the event for an error caught in a loop (the loop goes on)."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return NotifyEvent(EventKind.LOOP_ERROR, ts, f"Error in {where}", (text[:500],), {"where": where})


def daily_summary_event(ts: datetime, equity: float, pnl: float, trades: int, fills: int, extra: dict[str, Any] | None = None) -> NotifyEvent:
    """Return the end-of-day summary."""
    lines = [f"equity {equity:,.2f}", f"P&L today {pnl:+,.2f}", f"trades {trades}, fills {fills}"]
    lines += [f"{k} {v}" for k, v in (extra or {}).items()]
    return NotifyEvent(EventKind.DAILY_SUMMARY, ts, f"Daily summary {ts:%Y-%m-%d}", tuple(lines),
                       {"equity": equity, "pnl": pnl, "trades": trades, "fills": fills})


def model_drift_event(message: str, ts: datetime, reasons: list[str] | tuple[str, ...] = ()) -> NotifyEvent:
    """Return the event for the pinned model's health alarm going on."""
    return NotifyEvent(EventKind.MODEL_DRIFT, ts, message.split(":")[0][:200], tuple(reasons), {"reasons": list(reasons)})


def data_halt_event(active: bool, reason: str, ts: datetime) -> NotifyEvent:
    """Return the event for a market-data halt (stale data) being raised or lifted by the trading loop."""
    title = "Stale market data: no new risk until bars return" if active else "Market data back: stale-data halt lifted"
    return NotifyEvent(EventKind.HALT, ts, title, (f"reason: {reason}",), {"active": active, "reason": reason})
