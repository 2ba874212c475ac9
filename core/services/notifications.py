"""Notification services: one process-wide notifier, and a test message per channel."""

from __future__ import annotations

from core.notify import Delivery, Notifier, NotifyEvent
from core.notify.events import loop_error_event
from core.services.context import Context, get_context


def get_notifier(ctx: Context | None = None) -> Notifier:
    """Return the context's notifier, built from ``settings.notify`` on first use."""
    ctx = ctx or get_context()
    notifier = ctx.extras.get("notifier")
    if notifier is None:
        notifier = ctx.extras["notifier"] = Notifier(ctx.settings.notify, ctx.clock)
    return notifier


def notify(event: NotifyEvent, ctx: Context | None = None) -> dict[str, Delivery]:
    """Send ``event`` to every enabled channel; never raises (failures are logged and returned)."""
    return get_notifier(ctx).notify(event)


def notify_event(event: NotifyEvent, ctx: Context | None = None, background: bool = False) -> dict[str, Delivery] | None:
    """Send one event (fill, risk veto, halt, kill switch, loop error, daily summary) to the enabled channels.

    Never raises. ``background`` queues it on the notifier's thread (the trading loop
    must not wait for a mail server) and returns None.
    """
    notifier = get_notifier(ctx)
    if background:
        notifier.submit(event)
        return None
    return notifier.notify(event)


def notify_error(where: str, error: BaseException | str, ctx: Context | None = None) -> dict[str, Delivery] | None:
    """Send a ``loop_error`` event: job ``where`` failed with ``error`` (the next run goes on)."""
    ctx = ctx or get_context()
    return notify_event(loop_error_event(error, ctx.clock.now(), where=where), ctx=ctx)


def send_test_notification(channel: str, ctx: Context | None = None) -> Delivery:
    """Send a test message on ``channel`` (telegram, discord or email), enabled or not."""
    return get_notifier(ctx).send_test(channel)
