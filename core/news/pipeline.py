"""Fetch, normalise, tag, score, deduplicate and store: one news collection run."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from core.clock import Clock
from core.config import Settings
from core.news.dedupe import dedupe
from core.news.fetchers import AlphaVantageFetcher, BundledFetcher, Fetcher, FinnhubFetcher, NewsApiFetcher, RssFetcher
from core.news.model import NewsError, NewsItem
from core.news.sentiment import Scorer, make_scorer, score_items
from core.news.store import NewsRepo
from core.news.tagging import SymbolTagger

log = logging.getLogger(__name__)

SOURCES = ("bundled", "rss", "newsapi", "finnhub", "alphavantage")


@dataclass
class CollectReport:
    """What one run did: items per source, rows inserted/updated, and every error met."""

    fetched: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    unique: int = 0
    inserted: int = 0
    updated: int = 0

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return {"fetched": self.fetched, "unique": self.unique, "inserted": self.inserted, "updated": self.updated, "errors": self.errors}


def configured_sources(settings: Settings) -> list[str]:
    """Return the sources usable with ``settings``: bundled always, the others when configured."""
    news = settings.news
    found = ["bundled"]
    if news.rss_feeds:
        found.append("rss")
    for name, key in (("newsapi", news.newsapi_key), ("finnhub", news.finnhub_key), ("alphavantage", news.alphavantage_key)):
        if key is not None and key.get_secret_value():
            found.append(name)
    return found


def build_fetchers(settings: Settings, clock: Clock, sources: Sequence[str] | None = None, symbols: Sequence[str] | None = None) -> list[Fetcher]:
    """Return fetchers for ``sources`` (default: :func:`configured_sources`).

    Raises
    ------
    NewsError
        For an unknown source, or a source asked for by name that is not configured.
    """
    news = settings.news
    wanted = list(sources) if sources else configured_sources(settings)
    syms = [s.upper() for s in (symbols or news.symbols)]
    out: list[Fetcher] = []
    for name in wanted:
        if name not in SOURCES:
            raise NewsError(f"unknown news source '{name}': choose from {', '.join(SOURCES)}")
        if name == "bundled":
            out.append(BundledFetcher(settings.path(news.bundled_file), clock))
        elif name == "rss":
            if not news.rss_feeds:
                raise NewsError("no RSS feeds configured: set news.rss_feeds in config.yaml (a list of feed URLs)")
            out.append(RssFetcher(news.rss_feeds, clock, timeout=news.http_timeout))
        else:
            key = getattr(news, f"{name}_key")
            cls = {"newsapi": NewsApiFetcher, "finnhub": FinnhubFetcher, "alphavantage": AlphaVantageFetcher}[name]
            base = getattr(news, f"{name}_base")
            out.append(cls(key.get_secret_value() if key else "", syms, clock, base, timeout=news.http_timeout, aliases=news.aliases))
    return out


def collect(
    fetchers: Iterable[Fetcher],
    repo: NewsRepo,
    clock: Clock,
    *,
    tagger: SymbolTagger,
    scorer: Scorer,
    lookback: timedelta = timedelta(days=3),
) -> CollectReport:
    """Run every fetcher, then tag, score, deduplicate (also against stored items) and store.

    A fetcher that fails entirely or in part never stops the others; whatever
    arrived is stored and the errors are returned (and logged).
    """
    until = clock.now()
    since = until - lookback
    report = CollectReport()
    items: list[NewsItem] = []
    for fetcher in fetchers:
        try:
            result = fetcher.fetch(since, until)
        except Exception as exc:  # a bug in one source must not lose the others' items
            log.exception("news source %s failed", getattr(fetcher, "name", fetcher))
            report.errors.append(f"{getattr(fetcher, 'name', 'source')}: unexpected failure ({type(exc).__name__}: {exc})")
            continue
        report.fetched[result.source] = len(result.items)
        report.errors.extend(result.errors)
        items.extend(result.items)
    for err in report.errors:
        log.warning("news: %s", err)
    if not items:
        return report
    items = score_items((tagger.tag(i) for i in items), scorer)
    lo = min(i.published for i in items) - timedelta(days=2)
    hi = max(i.published for i in items) + timedelta(days=2)
    stored = repo.list(since=lo, until=hi, limit=None)
    unique = dedupe([*stored, *items], keep_ids={s.id for s in stored})
    stored_by_id = {s.id: s for s in stored}
    changed = [u for u in unique if stored_by_id.get(u.id) != u]
    report.unique = len(unique) - sum(1 for u in unique if u.id in stored_by_id and stored_by_id[u.id] == u)
    report.inserted, report.updated = repo.save(changed)
    return report


def collect_configured(
    settings: Settings, repo: NewsRepo, clock: Clock, sources: Sequence[str] | None = None, symbols: Sequence[str] | None = None
) -> CollectReport:
    """Run :func:`collect` with fetchers, tagger and scorer built from ``settings``."""
    news = settings.news
    tag_symbols = list(dict.fromkeys([*(s.upper() for s in news.symbols), *(s.upper() for s in symbols or []), "SPX"]))
    return collect(
        build_fetchers(settings, clock, sources, symbols),
        repo,
        clock,
        tagger=SymbolTagger(tag_symbols, news.aliases),
        scorer=make_scorer(news.scorer, news.sentiment_model, news.sentiment_batch_size),
        lookback=timedelta(days=news.lookback_days),
    )
