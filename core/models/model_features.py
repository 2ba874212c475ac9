"""The model's feature set: the causal technical features, plus news sentiment when the model uses it.

A model trained with ``models.features.sentiment: true`` carries ``extra={"sentiment": True}``
in its :class:`~core.features.FeatureConfig`; every path that scores it (training, predict,
the ensemble strategy, the audit, the drift check) builds its features here, so they agree.
Sentiment columns (:data:`core.news.features.FEATURE_COLUMNS`) count a headline only from
the first bar whose open is at or after its publication (causal; see :mod:`core.news.features`).
A symbol without news gets zeros (no headlines, neutral sentiment).
"""

from __future__ import annotations

import pandas as pd

from core.features import FeatureConfig, compute
from core.news.features import sentiment_feature


def uses_sentiment(config: FeatureConfig) -> bool:
    """Return True when the feature set includes the news-sentiment columns."""
    return bool((config.extra or {}).get("sentiment"))


def with_sentiment(config: FeatureConfig, on: bool = True) -> FeatureConfig:
    """Return ``config`` with the sentiment switch set to ``on``."""
    extra = {k: v for k, v in (config.extra or {}).items() if k != "sentiment"}
    if on:
        extra["sentiment"] = True
    return FeatureConfig(config.ma_windows, config.return_windows, config.vol_windows, config.volume_windows, config.candles, extra)


def model_features(bars: pd.DataFrame, config: FeatureConfig, symbol: str | None = None, news: pd.DataFrame | None = None,
                   last: int | None = None) -> pd.DataFrame:
    """Return the feature frame of ``bars`` (or of its ``last`` rows: the same values, see :func:`core.features.compute`).

    With sentiment on, ``news`` (published, symbols, sentiment) is required.
    """
    feats = compute(bars, config, last=last)
    if not uses_sentiment(config):
        return feats
    if news is None:
        raise ValueError("this model uses news sentiment: pass the stored headlines (services.news_frame())")
    sentiment = sentiment_feature(pd.DatetimeIndex(bars.index), symbol, news)
    return feats.join(sentiment if last is None else sentiment.iloc[len(sentiment) - len(feats) :])
