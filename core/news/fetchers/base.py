"""What every news fetcher shares: the result type, clear errors, and a masked HTTP GET."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from core.log import MASK_FILTER
from core.news.model import NewsItem

# urllib3 logs every request line (path and query string) at DEBUG; Telegram puts its
# token in the path and Alpha Vantage its key in the query, so mask on that logger itself.
_THIRD_PARTY_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.connection")


def guard_secrets(*secrets: str | None) -> None:
    """Mask ``secrets`` in our log handlers and in third-party HTTP loggers, whatever handler prints them."""
    MASK_FILTER.add(*(s for s in secrets if s))
    for name in _THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        if MASK_FILTER not in logger.filters:
            logger.addFilter(MASK_FILTER)


@dataclass
class FetchResult:
    """Items a fetcher got and the errors it met; a partial failure keeps everything that arrived."""

    source: str
    items: list[NewsItem] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return True when no error was met."""
        return not self.errors


class Fetcher(Protocol):
    """A news source: ``fetch`` never raises for network or API errors, it reports them."""

    name: str

    def fetch(self, since: datetime, until: datetime) -> FetchResult: ...


class FetchError(Exception):
    """One request failed; ``retryable`` says whether trying later may help."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


def mask_text(text: str, secrets: Iterable[str | None]) -> str:
    """Return ``text`` with every secret value replaced by ``***``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def http_get(
    session: requests.Session,
    url: str,
    *,
    what: str,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    secrets: Iterable[str | None] = (),
) -> requests.Response:
    """GET ``url`` and return the response, whatever its status.

    Raises
    ------
    FetchError
        When the server cannot be reached; the message names the host only, never
        the query string (which may carry an API key).
    """
    host = urlsplit(url).netloc
    try:
        return session.get(url, params=params, headers=dict(headers or {}), timeout=timeout)
    except requests.Timeout:
        raise FetchError(f"{what}: {host} did not answer within {timeout:g} s; try again later", retryable=True) from None
    except requests.RequestException as exc:
        reason = mask_text(type(exc).__name__, secrets)
        raise FetchError(f"{what}: cannot reach {host} ({reason}); check the network or the base URL setting", retryable=True) from None


def http_error(what: str, response: requests.Response, detail: str, hint: str = "") -> FetchError:
    """Return the error for a non-2xx answer: status, the API's own message, and what to do."""
    retry = response.status_code == 429 or response.status_code >= 500
    advice = hint if response.status_code in (401, 403) and hint else ("try again later" if retry else "")
    return FetchError(f"{what}: HTTP {response.status_code}: {detail}" + (f"; {advice}" if advice else ""), retryable=retry)


def json_body(what: str, response: requests.Response) -> Any:
    """Return the decoded JSON body or raise a :class:`FetchError` naming the problem."""
    try:
        return response.json()
    except ValueError:
        snippet = response.text[:80].replace("\n", " ")
        raise FetchError(f"{what}: the answer is not JSON (HTTP {response.status_code}, starts with {snippet!r})") from None
