"""News services: collect and list headlines, score text, sentiment features per symbol."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

import pandas as pd

from core.news import CollectReport, NewsItem, NewsRepo, Sentiment, collect_configured, make_scorer, sentiment_feature
from core.news.sentiment import Scorer
from core.services.context import Context, get_context


def fetch_news(sources: Sequence[str] | None = None, symbols: Sequence[str] | None = None, ctx: Context | None = None) -> CollectReport:
    """Fetch from ``sources`` (default: bundled plus every configured one), tag, score, dedupe and store.

    Never raises for network or API errors: they are in ``report.errors`` and
    whatever arrived is stored.
    """
    ctx = ctx or get_context()
    return collect_configured(ctx.settings, NewsRepo(ctx.store), ctx.clock, sources, symbols)


def list_news(
    symbol: str | None = None, limit: int | None = 100, since: datetime | None = None, until: datetime | None = None, ctx: Context | None = None
) -> list[NewsItem]:
    """Return stored headlines, newest first, optionally only those tagged ``symbol``."""
    ctx = ctx or get_context()
    return NewsRepo(ctx.store).list(symbol, limit=limit, since=since, until=until)


def ensure_news(ctx: Context | None = None) -> int:
    """Load the bundled headlines when the news table is empty; return how many items are stored."""
    ctx = ctx or get_context()
    repo = NewsRepo(ctx.store)
    if repo.count() == 0:
        fetch_news(["bundled"], ctx=ctx)
    return repo.count()


def headline_scorer(ctx: Context | None = None) -> Scorer:
    """Return the configured scorer (``news.scorer``, ``news.sentiment_model``); its ``name`` says which one loaded.

    A FinBERT scorer whose model folder cannot be loaded falls back to the lexicon (logged), so
    the name tells a user whether the real weights are in use.
    """
    ctx = ctx or get_context()
    key = ("news_scorer", ctx.settings.news.scorer, ctx.settings.news.sentiment_model)
    if key not in ctx.extras:
        ctx.extras[key] = make_scorer(ctx.settings.news.scorer, ctx.settings.news.sentiment_model, ctx.settings.news.sentiment_batch_size)
    return ctx.extras[key]


def score_headline(text: str, ctx: Context | None = None) -> Sentiment:
    """Return the configured scorer's sentiment of ``text``."""
    return headline_scorer(ctx).score(text)


def news_features(
    bars_index: pd.DatetimeIndex,
    symbol: str | None,
    *,
    cutoff: Literal["open", "close"] = "open",
    half_life: timedelta = timedelta(days=3),
    ctx: Context | None = None,
) -> pd.DataFrame:
    """Return the causal sentiment features of ``symbol`` on ``bars_index`` from the stored news.

    The bundled headlines are loaded first if the news table is empty. See
    :func:`core.news.sentiment_feature` for the columns and the causality rule.
    """
    ctx = ctx or get_context()
    ensure_news(ctx)
    items = NewsRepo(ctx.store).list(symbol, limit=None, newest_first=False)
    return sentiment_feature(bars_index, symbol, items, cutoff=cutoff, half_life=half_life)


def news_to_records(items: Sequence[NewsItem]) -> list[dict]:
    """Return items as JSON-ready dicts."""
    return [i.to_dict() for i in items]
