"""The news item as every part of the news stream sees it, and its stable identity."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

# "Apple beats estimates - Reuters" and "Apple beats estimates | CNBC" are one story.
_SOURCE_SUFFIX = re.compile(r"\s+[-|–—:]\s+[^-|–—:]{2,40}$")
_NON_WORD = re.compile(r"[^a-z0-9$%.]+")
_TAG = re.compile(r"<[^>]+>")


class NewsError(ValueError):
    """A news operation failed because of a setting or input; the message says what to do.

    A ``ValueError`` so the CLI prints it as one line (exit code 2).
    """


@dataclass(frozen=True, slots=True)
class NewsItem:
    """One headline, normalised: ``published`` and ``fetched`` are UTC-aware.

    ``symbols`` are the tickers the item is tagged with; ``sentiment`` is a
    score in [-1, 1] and ``label`` one of ``positive``, ``neutral``, ``negative``.
    """

    id: str
    title: str
    published: datetime
    fetched: datetime
    source: str
    url: str | None = None
    summary: str | None = None
    symbols: tuple[str, ...] = ()
    sentiment: float | None = None
    label: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def with_(self, **changes: object) -> NewsItem:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """Return a JSON-ready dict (ISO-8601 UTC times)."""
        return {
            "id": self.id,
            "title": self.title,
            "published": self.published.isoformat(),
            "fetched": self.fetched.isoformat(),
            "source": self.source,
            "url": self.url,
            "summary": self.summary,
            "symbols": list(self.symbols),
            "sentiment": self.sentiment,
            "label": self.label,
        }


def normalize_title(title: str) -> str:
    """Return the comparison form of a headline: ASCII, lower case, no source suffix or punctuation."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    text = _SOURCE_SUFFIX.sub("", text.strip())
    return _NON_WORD.sub(" ", text.lower()).strip()


def item_id(title: str, published: datetime) -> str:
    """Return the stable id of a story: a hash of its normalised title and UTC publication day.

    The day keeps a generic headline repeated weeks later ("Stocks rally") a
    separate story; the same story across midnight is merged by :func:`dedupe`.
    """
    key = f"{as_utc(published):%Y-%m-%d}|{normalize_title(title)}"
    return hashlib.sha1(key.encode()).hexdigest()[:32]


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_item(
    title: str,
    published: datetime,
    fetched: datetime,
    source: str,
    url: str | None = None,
    summary: str | None = None,
    symbols: tuple[str, ...] | list[str] = (),
    **extra: object,
) -> NewsItem:
    """Build a normalised :class:`NewsItem` (whitespace collapsed, times in UTC).

    Raises
    ------
    NewsError
        When the title is empty.
    """
    clean = " ".join((title or "").split())
    if not clean:
        raise NewsError("a news item needs a non-empty title")
    return NewsItem(
        id=item_id(clean, published),
        title=clean,
        published=as_utc(published),
        fetched=as_utc(fetched),
        source=(source or "unknown").strip()[:128],
        url=(url or None),
        summary=" ".join(_TAG.sub(" ", summary).split()) or None if summary else None,
        symbols=tuple(dict.fromkeys(s.upper() for s in symbols)),
        extra=dict(extra),
    )
