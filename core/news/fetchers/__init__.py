"""News fetchers behind one interface: ``fetch(since, until) -> FetchResult``."""

from core.news.fetchers.apis import AlphaVantageFetcher, FinnhubFetcher, NewsApiFetcher
from core.news.fetchers.base import Fetcher, FetchError, FetchResult, mask_text
from core.news.fetchers.bundled import BundledFetcher, read_headlines
from core.news.fetchers.rss import RssFetcher

__all__ = [
    "AlphaVantageFetcher",
    "BundledFetcher",
    "FetchError",
    "FetchResult",
    "Fetcher",
    "FinnhubFetcher",
    "NewsApiFetcher",
    "RssFetcher",
    "mask_text",
    "read_headlines",
]
