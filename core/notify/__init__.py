"""Notifications: Telegram, Discord webhook and e-mail, rate-limited, never raising into the loop."""

from core.notify.channels import Channel, ChannelError, DiscordChannel, EmailChannel, TelegramChannel
from core.notify.events import (
    EventKind,
    NotifyEvent,
    daily_summary_event,
    fill_event,
    halt_event,
    kill_switch_event,
    loop_error_event,
    risk_veto_event,
)
from core.notify.notifier import CHANNELS, Delivery, Notifier, RateLimiter, build_channel

__all__ = [
    "CHANNELS",
    "Channel",
    "ChannelError",
    "Delivery",
    "DiscordChannel",
    "EmailChannel",
    "EventKind",
    "Notifier",
    "NotifyEvent",
    "RateLimiter",
    "TelegramChannel",
    "build_channel",
    "daily_summary_event",
    "fill_event",
    "halt_event",
    "kill_switch_event",
    "loop_error_event",
    "risk_veto_event",
]
