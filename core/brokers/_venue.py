"""Helpers shared by the live venue adapters: live-trading guard, client IDs, HTTP errors, time."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlparse

import requests
from pydantic import SecretStr

from core.brokers.base import BrokerError, RetryableBrokerError
from core.brokers.retry import VenueUnavailable
from core.domain import Fill
from core.log import MASK_FILTER

# Client libraries that log request headers (ccxt puts the API key in them at DEBUG).
_CHATTY_LOGGERS = ("ccxt.base.exchange", "kiteconnect.connect", "urllib3.connectionpool")


class LiveTradingNotAllowed(BrokerError):
    """A live (real-money) venue endpoint was requested without ``mode: live`` and ``live_confirmed: true``."""


def is_loopback(url: str | None) -> bool:
    """Return True when ``url`` points at this machine (127.0.0.0/8, ::1, localhost): a local fake or proxy, never a real venue."""
    if not url:
        return False
    host = (urlparse(url if "//" in url else f"//{url}").hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_live_endpoint(urls: Iterable[str], sandbox_hosts: Iterable[str] = ()) -> bool:
    """Return True when any of the resolved endpoint ``urls`` may trade real money.

    Only loopback addresses and the venue's own sandbox hosts (``sandbox_hosts``,
    exact names) are not live; any other host, a proxy included, is treated as live.
    """
    safe = {h.lower() for h in sandbox_hosts}
    for url in urls:
        if is_loopback(url):
            continue
        if (urlparse(url).hostname or "").lower() not in safe:
            return True
    return False


def guard_live(venue: str, live: bool, allow_live: bool) -> None:
    """Refuse to build an adapter that would trade real money unless live trading was confirmed.

    Raises
    ------
    LiveTradingNotAllowed
        When ``live`` and not ``allow_live``.
    """
    if live and not allow_live:
        raise LiveTradingNotAllowed(
            f"{venue}: refusing to connect to the LIVE (real-money) endpoint. Use the testnet/paper account, or set "
            "mode: live AND live_confirmed: true in config.yaml (APP__MODE=live, APP__LIVE_CONFIRMED=true) after reading docs/brokers.md."
        )


def plain(secret: SecretStr | str | None) -> str | None:
    """Return a secret's plain value for handing to a client library, registering it for masking.

    The value is added to the log mask filter, which is also attached to the client
    libraries' own loggers, so even their DEBUG request dumps never show it.
    """
    if secret is None:
        return None
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if value:
        MASK_FILTER.add(value)
        for name in _CHATTY_LOGGERS:
            logger = logging.getLogger(name)
            if MASK_FILTER not in logger.filters:
                logger.addFilter(MASK_FILTER)
    return value


def venue_client_id(client_order_id: str, max_len: int, allowed: str = r"A-Za-z0-9") -> str:
    """Return ``client_order_id`` if the venue accepts it as is, else a stable short hash of it.

    The same input always gives the same output, so a lookup after a restart
    finds the order without any local state.
    """
    if len(client_order_id) <= max_len and re.fullmatch(f"[{allowed}]+", client_order_id):
        return client_order_id
    digest = hashlib.sha1(client_order_id.encode()).hexdigest()
    return ("h" + digest)[:max_len]


def map_requests_error(exc: requests.RequestException, venue: str) -> BrokerError:
    """Map a transport failure of ``requests`` to a broker error.

    A refused connection never reached the venue (:class:`VenueUnavailable`); a
    timeout or a connection dropped mid-request may have (plain retryable).
    """
    text = str(exc)
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.ReadTimeout) and (
        "Failed to establish a new connection" in text or "Connection refused" in text or "NameResolutionError" in text
    ):
        return VenueUnavailable(f"{venue} is unreachable: {type(exc).__name__}")
    if isinstance(exc, requests.Timeout):
        return RetryableBrokerError(f"{venue} timed out: {type(exc).__name__}")
    return RetryableBrokerError(f"{venue} connection failed: {type(exc).__name__}")


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header given in seconds (HTTP dates are ignored)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def from_ms(ms: float | int | None) -> datetime | None:
    """Return a UTC datetime from epoch milliseconds."""
    return None if ms is None else datetime.fromtimestamp(float(ms) / 1000.0, tz=UTC)


class TimeoutSession(requests.Session):
    """A ``requests`` session with a default timeout (alpaca-py sets none, so a hung venue would block forever)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method, url, **kwargs):  # type: ignore[override]
        """Send a request, applying the default timeout unless one is given."""
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, **kwargs)


def fills_since(fills: list[Fill], since_client_order_id: str | None, since: datetime | None = None) -> list[Fill]:
    """Return ``fills`` in time order, starting at the first fill of ``since_client_order_id``.

    All fills when it is None; none when that order has no fill. ``since`` (a time) drops
    fills before it.
    """
    out = sorted((f for f in fills if since is None or f.ts >= since), key=lambda f: (f.ts, f.fill_id))
    if since_client_order_id is None:
        return out
    first = next((i for i, f in enumerate(out) if f.client_order_id == since_client_order_id), len(out))
    return out[first:]
