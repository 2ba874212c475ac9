"""Causal sentiment features per symbol, aligned to any bar index (daily or intraday).

A headline counts at bar ``t`` only when it was published at or before the
bar's *cutoff*: its open time (``cutoff="open"``, the default and the safe
choice for bars stamped with their open time) or its close time
(``cutoff="close"``: open time plus the bar length). So a headline published
after bar ``t`` can never change a feature at ``t``, and dropping later
headlines or later bars leaves every earlier value unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import timedelta
from typing import Literal

import numpy as np
import pandas as pd

from core.news.model import NewsItem
from core.news.sentiment import LexiconScorer, Scorer

FEATURE_COLUMNS = ["news_count", "news_sentiment", "news_sentiment_ewm"]


def _as_frame(items: Iterable[NewsItem] | pd.DataFrame, symbol: str | None, scorer: Scorer | None) -> pd.DataFrame:
    if isinstance(items, pd.DataFrame):
        frame = items.loc[:, [c for c in ("published", "symbols", "sentiment", "title") if c in items.columns]].copy()
    else:
        frame = pd.DataFrame(
            [{"published": i.published, "symbols": i.symbols, "sentiment": i.sentiment, "title": i.title} for i in items],
            columns=["published", "symbols", "sentiment", "title"],
        )
    if symbol is not None and len(frame):
        wanted = symbol.upper()

        def has(value: object) -> bool:
            tags = value.split(",") if isinstance(value, str) else list(value or ())
            return wanted in {str(t).strip().upper() for t in tags}

        frame = frame[frame["symbols"].map(has)]
    frame["published"] = pd.to_datetime(frame["published"], utc=True)
    if frame["sentiment"].isna().any():
        if "title" not in frame.columns:
            raise ValueError("items without a sentiment need a 'title' column to be scored")
        scorer = scorer or LexiconScorer()
        missing = frame["sentiment"].isna()
        frame.loc[missing, "sentiment"] = frame.loc[missing, "title"].map(lambda t: scorer.score(str(t)).score)
    return frame.sort_values("published", kind="stable")


def sentiment_feature(
    bars_index: pd.DatetimeIndex,
    symbol: str | None,
    items: Iterable[NewsItem] | pd.DataFrame,
    *,
    cutoff: Literal["open", "close"] = "open",
    bar_length: timedelta | None = None,
    half_life: timedelta = timedelta(days=3),
    scorer: Scorer | None = None,
) -> pd.DataFrame:
    """Return causal news-sentiment features for ``symbol`` on ``bars_index``.

    Parameters
    ----------
    bars_index
        The bars' UTC open times (a sorted ``DatetimeIndex``), daily or intraday.
    symbol
        Keep items tagged with this symbol; ``None`` keeps all (market-wide sentiment).
    items
        :class:`NewsItem` objects or a frame with ``published``, ``symbols`` and
        ``sentiment`` (and ``title`` when some sentiments are missing).
    cutoff
        ``"open"``: a headline counts from the bar whose open time is at or after
        its publication; ``"close"``: from the bar whose close is.
    bar_length
        Length of one bar (default: the median spacing of ``bars_index``); used
        by ``cutoff="close"`` and for the first bar's window.
    half_life
        Half-life of the exponentially decayed sentiment.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``bars_index`` with ``news_count`` (headlines since the
        previous bar's cutoff), ``news_sentiment`` (their mean score, 0 without
        news) and ``news_sentiment_ewm`` = ``sum(w_i * s_i) / max(sum(w_i), 1)``
        over all headlines so far with ``w_i = 0.5 ** (age_i / half_life)``: a
        weighted mean while news is fresh, fading to 0 as it goes stale.
    """
    index = pd.DatetimeIndex(bars_index)
    if index.tz is None:
        raise ValueError("bars_index must be timezone-aware UTC (bars carry a UTC 'ts' index)")
    index = index.tz_convert("UTC")
    if not index.is_monotonic_increasing:
        raise ValueError("bars_index must be sorted in ascending time")
    out = pd.DataFrame(0.0, index=bars_index, columns=FEATURE_COLUMNS)
    if len(index) == 0:
        return out
    if bar_length is None:
        bar_length = pd.Series(index).diff().median() if len(index) > 1 else timedelta(days=1)
        bar_length = timedelta(days=1) if pd.isna(bar_length) else pd.Timedelta(bar_length).to_pytimedelta()
    cut = index + (pd.Timedelta(bar_length) if cutoff == "close" else pd.Timedelta(0))
    frame = _as_frame(items, symbol, scorer)
    if frame.empty:
        return out

    # Integer nanoseconds keep the comparisons exact.
    pub = frame["published"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    val = frame["sentiment"].to_numpy(dtype=float)
    cuts = cut.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    upto = np.searchsorted(pub, cuts, side="right")  # items with published <= cutoff
    first_start = np.searchsorted(pub, cuts[0] - pd.Timedelta(bar_length).value, side="right")
    starts = np.concatenate([[first_start], upto[:-1]])
    csum = np.concatenate([[0.0], np.cumsum(val)])
    counts = upto - starts
    sums = csum[upto] - csum[starts]
    lam = math.log(2.0) / pd.Timedelta(half_life).value

    ewm = np.zeros(len(cuts))
    s_dec = w_dec = 0.0
    prev_cut: int | None = None
    lo = 0
    for k, c in enumerate(cuts):
        if prev_cut is not None:
            decay = math.exp(-lam * (c - prev_cut))
            s_dec, w_dec = s_dec * decay, w_dec * decay
        hi = upto[k]
        if hi > lo:
            w = np.exp(-lam * (c - pub[lo:hi]))
            s_dec += float(np.dot(w, val[lo:hi]))
            w_dec += float(w.sum())
            lo = hi
        # At least one unit of weight in the denominator: stale news fades towards 0 instead of
        # holding the last value for ever.
        ewm[k] = s_dec / max(w_dec, 1.0)
        prev_cut = int(c)

    out["news_count"] = counts.astype(float)
    out["news_sentiment"] = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    out["news_sentiment_ewm"] = ewm
    return out
