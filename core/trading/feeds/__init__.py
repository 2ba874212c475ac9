"""Feeds of the trading loop: the offline replay and the live market-data feeds.

``build_feed(ctx, session, account, load)`` picks the feed named by ``data.provider``
(pinned in the paper session when it starts).
"""

from core.trading.feeds.base import Feed, FeedStatus
from core.trading.feeds.factory import LIVE_PROVIDERS, build_feed, feed_provider
from core.trading.feeds.gate import data_gate
from core.trading.feeds.replay import ReplayFeed

__all__ = ["LIVE_PROVIDERS", "Feed", "FeedStatus", "ReplayFeed", "build_feed", "data_gate", "feed_provider"]
