"""Collapse the same story reported by several sources into one item."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from core.news.model import NewsItem, normalize_title

# Words that carry no identity: two headlines sharing only these are not the same story.
_STOP = frozenset([
    "a", "an", "the", "of", "to", "in", "on", "for", "and", "or", "as", "at", "by", "with", "from", "is", "are", "be",
    "its", "it", "this", "that", "after", "over", "new", "says",
])


def _tokens(title: str) -> frozenset[str]:
    return frozenset(w for w in normalize_title(title).split() if w not in _STOP)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Return |a ∩ b| / |a ∪ b| (0 for two empty sets)."""
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def merge(keep: NewsItem, other: NewsItem) -> NewsItem:
    """Return ``keep`` enriched by ``other``: earliest publication, all symbols and sources, first non-empty fields."""
    sources = list(dict.fromkeys([*(s.strip() for s in keep.source.split(",")), *(s.strip() for s in other.source.split(","))]))
    return keep.with_(
        published=min(keep.published, other.published),
        fetched=min(keep.fetched, other.fetched),
        source=", ".join(sources)[:128],
        url=keep.url or other.url,
        summary=keep.summary or other.summary,
        symbols=tuple(dict.fromkeys([*keep.symbols, *other.symbols])),
        sentiment=keep.sentiment if keep.sentiment is not None else other.sentiment,
        label=keep.label or other.label,
    )


def dedupe(
    items: Iterable[NewsItem], threshold: float = 0.8, window: timedelta = timedelta(days=2), keep_ids: frozenset[str] | set[str] = frozenset()
) -> list[NewsItem]:
    """Return ``items`` with duplicates merged, oldest first.

    Two items are the same story when they share an id (same normalised title),
    the same URL, or when their title words overlap by at least ``threshold``
    (Jaccard) and they were published within ``window`` of each other. The
    merged item keeps the first id seen, or an id from ``keep_ids`` (the ids
    already stored) when the group has one, so stored rows stay stable.
    """
    kept: list[NewsItem] = []
    by_id: dict[str, int] = {}
    by_url: dict[str, int] = {}
    tokens: list[frozenset[str]] = []
    for item in sorted(items, key=lambda i: (i.published, i.id)):
        idx = by_id.get(item.id)
        if idx is None and item.url:
            idx = by_url.get(item.url)
        if idx is None:
            toks = _tokens(item.title)
            for j in range(len(kept) - 1, -1, -1):
                if item.published - kept[j].published > window:
                    break
                if jaccard(toks, tokens[j]) >= threshold:
                    idx = j
                    break
        if idx is None:
            by_id[item.id] = len(kept)
            if item.url:
                by_url[item.url] = len(kept)
            kept.append(item)
            tokens.append(_tokens(item.title))
        elif item.id in keep_ids and kept[idx].id not in keep_ids:
            kept[idx] = merge(item, kept[idx]).with_(published=min(item.published, kept[idx].published))
        else:
            kept[idx] = merge(kept[idx], item)
            by_id.setdefault(item.id, idx)
            if item.url:
                by_url.setdefault(item.url, idx)
    return kept
