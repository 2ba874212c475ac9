"""The stored headlines as one frame: the input of the causal news-sentiment features."""

from __future__ import annotations

import pandas as pd

from core.services.context import Context, get_context


def news_frame(ctx: Context | None = None) -> pd.DataFrame:
    """Return the stored headlines as a frame (published, symbols, sentiment) for sentiment features.

    Loads the bundled headlines first when the news table is empty.
    """
    from core.services.news import ensure_news, list_news

    ctx = ctx or get_context()
    ensure_news(ctx)
    items = list_news(limit=None, ctx=ctx)
    return pd.DataFrame([{"published": i.published, "symbols": ",".join(i.symbols), "sentiment": i.sentiment, "title": i.title} for i in items],
                        columns=["published", "symbols", "sentiment", "title"])
