"""What a tick of the trading loop tells the user: fills, risk vetoes, new halts, a daily summary.

:class:`LoopAlerts` turns what changed during one tick into notification events
and hands them to the loop's ``ports.notify`` (``core.services`` queues them on
the notifier; channels, filters and the rate limit live in :mod:`core.notify`). It only looks at what the tick added (new
orders, new fills, the last bars of the equity curve), so its cost does not grow
with the session's history. The last summarised day is kept in the store, so a
restarted host neither repeats nor skips a daily summary.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from core.domain import RiskAction, RiskDecision
from core.notify.events import NotifyEvent, daily_summary_event, fill_event, halt_event, risk_veto_event
from core.risk.state import KEY_DAILY

log = logging.getLogger(__name__)


class LoopAlerts:
    """Notifications of one trading loop (``loop`` is a :class:`core.trading.loop.TradingLoop`)."""

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        self._day_key = f"{loop._key}.notified_day"
        self._halts = self._halt_stamps()  # halts that happened before this process are not news

    def after_tick(self, since_order: int, since_fill: int) -> list[NotifyEvent]:
        """Send (in the background) and return the events of the orders, fills and bars the tick added."""
        events = self.collect(since_order, since_fill)
        self.send(events)
        return events

    def collect(self, since_order: int, since_fill: int) -> list[NotifyEvent]:
        """Return the events of the orders, fills and bars the tick added (the last summarised day is stored in the tick's transaction)."""
        loop = self.loop
        events = [fill_event(f) for f in loop.broker.fill_log[since_fill:]]
        for order in loop.manager.orders(since_order):
            if order.status.value == "rejected" and (order.reason or "").startswith("risk: "):
                decision = RiskDecision(RiskAction.VETO, 0.0, order.reason[len("risk: "):])
                events.append(risk_veto_event(order.symbol, decision, order.updated_at or loop.clock.now(), requested=order.quantity))
        events += self._new_halts()
        events += self._daily_summaries(since_fill)
        return events

    def send(self, events: list[NotifyEvent]) -> None:
        """Queue ``events`` on the notifier (after the tick committed, so a rolled-back bar is never announced)."""
        if events:
            try:
                self.loop.ports.notify(events)
            except Exception as exc:  # a notification problem never stops trading
                log.warning("could not queue notifications: %s", exc)

    # -- halts ---------------------------------------------------------------------------
    def _halt_stamps(self) -> dict[str, str | None]:
        state = self.loop.risk.state
        drawdown = state.drawdown()
        daily = state.store.get_setting(KEY_DAILY) or {}
        return {"drawdown": drawdown.get("since") if drawdown.get("active") else None, "daily": daily.get("since")}

    def _new_halts(self) -> list[NotifyEvent]:
        now, before = self._halt_stamps(), self._halts
        self._halts = now
        state, out = self.loop.risk.state, []
        if now["drawdown"] and now["drawdown"] != before["drawdown"]:
            rec = state.drawdown()
            out.append(halt_event(f"drawdown {1 - rec['equity'] / rec['peak']:.2%} below the peak (limit {rec['limit']:.0%}); "
                                  "a person must reset it on the Risk page", self.loop.clock.now()))
        if now["daily"] and now["daily"] != before["daily"]:
            rec = state.store.get_setting(KEY_DAILY) or {}
            loss = 1 - rec.get("equity", 0.0) / rec["day_start"] if rec.get("day_start") else 0.0
            out.append(halt_event(f"daily loss cap: {loss:.2%} below the day's start; trading resumes tomorrow (UTC)", self.loop.clock.now()))
        return out

    # -- daily summary -------------------------------------------------------------------------
    def _daily_summaries(self, since_fill: int) -> list[NotifyEvent]:
        """Return a summary for each session day that ended in this tick (a bar of a later day arrived)."""
        loop = self.loop
        curve = loop.broker.portfolio.equity_curve
        if not curve:
            return []
        today = curve[-1].ts.date()
        done = loop.store.get_setting(self._day_key)
        last_done = date.fromisoformat(done) if done else None
        days: list[date] = []
        for point in reversed(curve):  # only the days this tick closed: walk back to the last summarised one
            day = point.ts.date()
            if day >= today or (days and days[-1] == day):
                continue
            if (last_done is not None and day <= last_done) or (last_done is None and days):
                break  # a new session's first tick summarises only the day just ended
            days.append(day)
        out = [self._summary(day) for day in sorted(days)]
        if days:
            loop.store.set_setting(self._day_key, max(days).isoformat())
        return out

    def _summary(self, day: date) -> NotifyEvent:
        pf = self.loop.broker.portfolio
        end = next(p for p in reversed(pf.equity_curve) if p.ts.date() <= day)
        start = next((p.equity for p in reversed(pf.equity_curve) if p.ts.date() < day), pf.equity_curve[0].equity)
        fills = 0
        for fill in reversed(self.loop.broker.fill_log):
            if fill.ts.date() < day:
                break
            fills += fill.ts.date() == day
        trades = 0
        for trade in reversed(pf.trades):
            if trade.exit_ts.date() < day:
                break
            trades += trade.exit_ts.date() == day
        return daily_summary_event(end.ts, equity=end.equity, pnl=end.equity - start, trades=trades, fills=fills)
