"""RSS and Atom feeds through feedparser."""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

import feedparser
import requests

from core.clock import Clock
from core.news.fetchers.base import FetchError, FetchResult, http_error, http_get
from core.news.model import NewsError, make_item

log = logging.getLogger(__name__)


def _published(entry: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            # feedparser normalises every date to a UTC struct_time.
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    return None


class RssFetcher:
    """Read headlines from RSS 2.0 / Atom feeds.

    A feed that cannot be fetched or parsed is reported in ``errors`` and the
    other feeds still count. A feed with a syntax error but readable entries
    (feedparser's "bozo" flag) keeps those entries and reports the problem. An
    entry without a date gets the fetch time and ``extra["published_estimated"]``.
    """

    name = "rss"

    def __init__(self, urls: Iterable[str], clock: Clock, timeout: float = 10.0, session: requests.Session | None = None) -> None:
        self.urls = list(urls)
        self.clock = clock
        self.timeout = timeout
        self.session = session or requests.Session()

    def fetch(self, since: datetime, until: datetime) -> FetchResult:
        """Return the entries of every feed published since ``since`` (undated ones always)."""
        result = FetchResult(self.name)
        for url in self.urls:
            try:
                self._fetch_one(url, since, until, result)
            except FetchError as exc:
                result.errors.append(str(exc))
        return result

    def _fetch_one(self, url: str, since: datetime, until: datetime, result: FetchResult) -> None:
        what = f"rss {url}"
        response = http_get(self.session, url, what=what, timeout=self.timeout, headers={"User-Agent": "ai-trading-platform/0.1"})
        if response.status_code >= 400:
            raise http_error(what, response, response.reason or "error")
        feed = feedparser.parse(response.content, response_headers={k.lower(): v for k, v in response.headers.items()})
        if feed.bozo and not feed.entries:
            raise FetchError(f"{what}: not a readable RSS/Atom feed ({type(feed.bozo_exception).__name__}: {feed.bozo_exception})")
        if feed.bozo:
            result.errors.append(f"{what}: feed has errors ({feed.bozo_exception}); kept {len(feed.entries)} readable entries")
        source = feed.feed.get("title") or url
        now = self.clock.now()
        for n, entry in enumerate(feed.entries):
            published = _published(entry)
            if published is not None and published < since:  # already seen; a clock-skewed future stamp is kept
                continue
            try:
                item = make_item(
                    entry.get("title", ""), published or now, now, source, url=entry.get("link"),
                    summary=entry.get("summary"), **({"published_estimated": True} if published is None else {}),
                )
            except NewsError:
                result.errors.append(f"{what}: entry {n + 1} has no title; skipped")
                continue
            result.items.append(item)
