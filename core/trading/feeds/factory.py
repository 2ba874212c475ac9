"""Pick the loop's feed from ``data.provider`` (pinned in the session)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from core.trading.feeds.base import Feed
from core.trading.feeds.replay import ReplayFeed

LIVE_PROVIDERS = ("venue", "ccxt", "alpaca", "yfinance", "zerodha")


def feed_provider(ctx: Any) -> str:
    """Return the configured provider with ``sample`` read as its new name ``replay``."""
    provider = ctx.settings.data.provider
    return "replay" if provider == "sample" else provider


def build_feed(ctx: Any, session: dict[str, Any], account: str, load: Callable[[str], pd.DataFrame]) -> Feed:
    """Return the feed of a paper session.

    Parameters
    ----------
    ctx
        The application context (settings, store, clock).
    session
        The stored session: ``symbols``, ``timeframe``, ``warmup_bars``, ``bars_per_tick`` and
        ``feed`` (the provider) (absent in sessions started before feeds existed: the replay).
    account
        The account the feed's state (cursor) belongs to.
    load
        ``load(symbol)`` returns the stored bars the replay releases.
    """
    provider = session.get("feed", "replay")
    if provider in ("replay", "sample"):
        return ReplayFeed(ctx.store, load, session["symbols"], start_at=session["warmup_bars"],
                          bars_per_tick=session.get("bars_per_tick", 1), name=account)
    from core.trading.feeds.live import build_live_feed

    return build_live_feed(ctx, session, account, provider)
