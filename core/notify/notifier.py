"""The notifier: fan an event out to the enabled channels, rate-limited, never raising.

The trading loop calls :meth:`Notifier.notify` (or :meth:`Notifier.submit` to
send from a background thread). Whatever goes wrong — a channel not configured,
a server down, a bug — is logged with every secret masked and reported in the
returned :class:`Delivery` records; nothing is raised into the caller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from core.clock import Clock
from core.config import NotifySettings
from core.log import secret_parts
from core.news.fetchers.base import guard_secrets, mask_text
from core.notify.channels import Channel, ChannelError, DiscordChannel, EmailChannel, TelegramChannel
from core.notify.events import EventKind, NotifyEvent

log = logging.getLogger(__name__)

CHANNELS = ("telegram", "discord", "email")


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened to one event on one channel.

    ``status`` is ``sent``, ``failed``, ``rate_limited``, ``disabled``,
    ``filtered`` (the channel does not take this kind) or ``misconfigured``.
    """

    channel: str
    status: str
    error: str = ""


class RateLimiter:
    """A token bucket: ``per_minute`` messages per minute, bursts up to ``per_minute``."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._tokens = float(per_minute)
        self._last = clock.now()

    def allow(self, force: bool = False) -> bool:
        """Take one token and return True, or return False when none is left (``force`` always takes)."""
        now = self.clock.now()
        elapsed = max((now - self._last).total_seconds(), 0.0)
        self._last = now
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        if self._tokens >= 1.0 or force:
            self._tokens = max(self._tokens - 1.0, 0.0)
            return True
        return False


def secrets_of(settings: NotifySettings) -> list[str]:
    """Return the plain secret values in ``settings`` (to mask them)."""
    values = [settings.telegram_token, settings.discord_webhook_url, settings.smtp_password]
    return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]


def build_channel(name: str, settings: NotifySettings) -> Channel:
    """Return the channel ``name`` built from ``settings``.

    Raises
    ------
    ChannelError
        When the channel lacks a setting; the message names the variable to set.
    ValueError
        For an unknown channel name.
    """
    s = settings
    plain = lambda v: v.get_secret_value() if v is not None else ""  # noqa: E731
    if name == "telegram":
        return TelegramChannel(plain(s.telegram_token), s.telegram_chat_id or "", s.telegram_api_base, s.timeout_seconds)
    if name == "discord":
        return DiscordChannel(plain(s.discord_webhook_url), s.timeout_seconds)
    if name == "email":
        return EmailChannel(s.smtp_host, s.smtp_port, s.email_from, s.email_to, s.smtp_user, plain(s.smtp_password) or None,
                            s.smtp_starttls, s.smtp_ca_file, s.timeout_seconds)
    raise ValueError(f"unknown notification channel '{name}': choose from {', '.join(CHANNELS)}")


class Notifier:
    """Send :class:`NotifyEvent` objects to the enabled channels.

    Parameters
    ----------
    settings
        The ``notify`` settings (enable flags, credentials, ``rate_per_minute``, ``events``).
    clock
        The injected clock (rate limiting).
    channels
        Ready channels by name, overriding those built from ``settings`` (tests, custom sinks).
    """

    def __init__(self, settings: NotifySettings, clock: Clock, channels: Mapping[str, Channel] | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self._secrets = secrets_of(settings)
        guard_secrets(*self._secrets)
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self.enabled = {n: bool(getattr(settings, f"{n}_enabled")) for n in CHANNELS}
        self._channels: dict[str, Channel] = {}
        self._broken: dict[str, str] = {}
        for name in CHANNELS:
            if channels is not None and name in channels:
                self._channels[name] = channels[name]
            elif self.enabled[name]:
                try:
                    self._channels[name] = build_channel(name, settings)
                except ChannelError as exc:
                    self._broken[name] = self._mask(str(exc))
                    log.warning("notify: %s is enabled but %s", name, self._broken[name])
        for name, channel in (channels or {}).items():
            self._channels.setdefault(name, channel)
            self.enabled.setdefault(name, True)
        self._limiters = {n: RateLimiter(settings.rate_per_minute, clock) for n in [*CHANNELS, *self._channels]}
        self._suppressed = dict.fromkeys(self._limiters, 0)
        self.kinds = {EventKind(k) for k in settings.events}

    def _mask(self, text: str) -> str:
        # Every part of a secret (a webhook URL's path and token), not only the whole value.
        return mask_text(text, [part for secret in self._secrets for part in secret_parts(secret)])

    def notify(self, event: NotifyEvent) -> dict[str, Delivery]:
        """Send ``event`` to every enabled channel and return what happened on each; never raises."""
        results: dict[str, Delivery] = {}
        for name in self.enabled:
            try:
                results[name] = self._deliver(name, event)
            except Exception as exc:  # the trading loop must never see a notification failure
                err = self._mask(f"{type(exc).__name__}: {exc}")
                log.error("notify: %s crashed while sending %s: %s", name, event.kind.value, err)
                results[name] = Delivery(name, "failed", err)
        return results

    def _deliver(self, name: str, event: NotifyEvent) -> Delivery:
        if not self.enabled.get(name):
            return Delivery(name, "disabled")
        if event.kind not in self.kinds:
            return Delivery(name, "filtered")
        if name in self._broken:
            return Delivery(name, "misconfigured", self._broken[name])
        with self._lock:
            if not self._limiters[name].allow(force=event.kind.critical):
                self._suppressed[name] += 1
                log.info("notify: %s rate limit reached, %s dropped", name, event.kind.value)
                return Delivery(name, "rate_limited")
            dropped, self._suppressed[name] = self._suppressed[name], 0
        text = event.text()
        if dropped:
            text += f"\n({dropped} earlier notification(s) dropped by the rate limit)"
        try:
            self._channels[name].send(text, event.subject())
        except ChannelError as exc:
            err = self._mask(str(exc))
            log.warning("notify: %s could not send %s: %s", name, event.kind.value, err)
            return Delivery(name, "failed", err)
        log.debug("notify: %s sent %s", name, event.kind.value)
        return Delivery(name, "sent")

    def send_test(self, name: str, text: str = "Test notification from the trading platform: this channel works.") -> Delivery:
        """Send a test message on ``name`` whether or not it is enabled; never raises."""
        if name not in CHANNELS and name not in self._channels:
            return Delivery(name, "failed", f"unknown channel '{name}': choose from {', '.join(CHANNELS)}")
        try:
            channel = self._channels.get(name) or build_channel(name, self.settings)
            channel.send(f"{text}\n{self.clock.now():%Y-%m-%d %H:%M:%S UTC}", "[trading bot] test notification")
        except ChannelError as exc:
            err = self._mask(str(exc))
            log.warning("notify: test on %s failed: %s", name, err)
            return Delivery(name, "misconfigured" if "not configured" in err else "failed", err)
        except Exception as exc:
            err = self._mask(f"{type(exc).__name__}: {exc}")
            log.error("notify: test on %s crashed: %s", name, err)
            return Delivery(name, "failed", err)
        return Delivery(name, "sent")

    def submit(self, event: NotifyEvent) -> Future[dict[str, Delivery]]:
        """Send ``event`` from one background thread, in order, and return a future of the deliveries."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify")
            return self._executor.submit(self.notify, event)

    def close(self) -> None:
        """Wait for queued background sends and stop the thread."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
