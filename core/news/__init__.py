"""News stream: fetchers, normalisation, dedupe, symbol tagging, sentiment, causal features.

Public names are re-exported here; see each module for details.
"""

from core.news.dedupe import dedupe
from core.news.features import FEATURE_COLUMNS, sentiment_feature
from core.news.model import NewsError, NewsItem, item_id, make_item, normalize_title
from core.news.pipeline import CollectReport, build_fetchers, collect, collect_configured, configured_sources
from core.news.sentiment import FinBertScorer, LexiconScorer, Sentiment, label_for, make_scorer, score_items
from core.news.store import NewsRepo
from core.news.tagging import DEFAULT_ALIASES, SymbolTagger

__all__ = [
    "DEFAULT_ALIASES",
    "FEATURE_COLUMNS",
    "CollectReport",
    "FinBertScorer",
    "LexiconScorer",
    "NewsError",
    "NewsItem",
    "NewsRepo",
    "Sentiment",
    "SymbolTagger",
    "build_fetchers",
    "collect",
    "collect_configured",
    "configured_sources",
    "dedupe",
    "item_id",
    "label_for",
    "make_item",
    "make_scorer",
    "normalize_title",
    "score_items",
    "sentiment_feature",
]
