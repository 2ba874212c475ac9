"""The sentiment feature: hand-checked values and causality (truncation) on bundled data."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from core.clock import FixedClock
from core.news import NewsItem, make_item, sentiment_feature
from core.news.fetchers import BundledFetcher
from core.services import load_bars

T = datetime(2024, 1, 1, tzinfo=UTC)


def _item(title, when, score, symbols=("AAPL",)):
    return make_item(title, when, when, "test", symbols=symbols).with_(sentiment=score)


def _brute_force(index, items, cutoff_delta, half_life, first_window):
    """Reference: each bar recomputed from scratch over all items (no recursion)."""
    rows = []
    cuts = [t + cutoff_delta for t in index]
    for k, c in enumerate(cuts):
        prev = cuts[k - 1] if k else c - first_window
        seen = [i for i in items if i.published <= c]
        window = [i.sentiment for i in seen if i.published > prev]
        w = [0.5 ** ((c - i.published) / half_life) for i in seen]
        s = sum(wi * i.sentiment for wi, i in zip(w, seen, strict=True))
        rows.append((float(len(window)), np.mean(window) if window else 0.0, s / max(sum(w), 1.0)))
    return pd.DataFrame(rows, index=index, columns=["news_count", "news_sentiment", "news_sentiment_ewm"])


def test_daily_values_match_a_hand_computed_case():
    idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    items = [
        _item("a", T + timedelta(hours=12), 0.5),
        _item("b", T + timedelta(days=1), -0.3),  # exactly at the 01-02 open: counts there
        _item("c", T + timedelta(days=2, hours=6), 0.9, symbols=("MSFT",)),
    ]
    f = sentiment_feature(idx, "AAPL", items, half_life=timedelta(days=1))
    assert f["news_count"].tolist() == [0, 2, 0, 0]
    assert f["news_sentiment"].tolist() == pytest.approx([0.0, 0.1, 0.0, 0.0])
    # 01-02: weights 0.5**0.5 and 1 -> (0.5*0.70711 - 0.3) / 1.70711; then halves daily over max(W, 1).
    s, w = 0.5 * 0.5**0.5 - 0.3, 0.5**0.5 + 1
    assert f["news_sentiment_ewm"].tolist() == pytest.approx([0.0, s / w, s * 0.5 / max(w * 0.5, 1), s * 0.25 / 1], abs=1e-12)


def test_matches_brute_force_on_random_intraday_items():
    rng = np.random.default_rng(7)
    idx = pd.date_range("2024-01-01", periods=200, freq="15min", tz="UTC")
    stamps = idx[0] + pd.to_timedelta(rng.integers(-3600, 200 * 900, 60), unit="s")
    items = [_item(f"h{k}", ts.to_pydatetime(), float(rng.uniform(-1, 1))) for k, ts in enumerate(stamps)]
    for cutoff, delta in (("open", timedelta(0)), ("close", timedelta(minutes=15))):
        got = sentiment_feature(idx, "AAPL", items, cutoff=cutoff, half_life=timedelta(hours=2))
        ref = _brute_force(idx, items, delta, timedelta(hours=2), timedelta(minutes=15))
        pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def btc_news():
    return BundledFetcher("data/news/headlines.csv", FixedClock(datetime(2024, 1, 1, tzinfo=UTC))).fetch().items


@pytest.mark.parametrize(("timeframe", "cutoff"), [("1d", "open"), ("1d", "close"), ("15m", "open"), ("15m", "close")])
def test_headlines_after_a_bar_never_change_it(ctx, btc_news, timeframe, cutoff):
    bars = load_bars("BTC-USD", timeframe=timeframe)
    rng = np.random.default_rng(1)
    # Bundled headlines plus synthetic ones inside the intraday range, so every check has news.
    extra = [
        _item(f"synthetic {k}", (bars.index[0] + (bars.index[-1] - bars.index[0]) * float(u)).to_pydatetime(), float(s), ("BTC-USD",))
        for k, (u, s) in enumerate(zip(rng.uniform(0, 1, 40), rng.uniform(-1, 1, 40), strict=True))
    ]
    items: list[NewsItem] = [*btc_news, *extra]
    full = sentiment_feature(bars.index, "BTC-USD", items, cutoff=cutoff)
    assert full["news_count"].sum() > 0
    length = pd.Series(bars.index).diff().median()
    for q in (0.2, 0.5, 0.8):
        t_cut = bars.index[int(len(bars) * q)]
        known = [i for i in items if i.published <= t_cut]
        # Bars whose cutoff is at or before t_cut are fully determined by what was known at t_cut.
        done = bars.index[(bars.index + (length if cutoff == "close" else pd.Timedelta(0))) <= t_cut]
        trunc = sentiment_feature(bars.index, "BTC-USD", known, cutoff=cutoff, bar_length=length)
        pd.testing.assert_frame_equal(trunc.loc[done], full.loc[done])
        # Truncating the bars themselves changes nothing before the cut either.
        short = sentiment_feature(bars.index[: len(done)], "BTC-USD", items, cutoff=cutoff, bar_length=length)
        pd.testing.assert_frame_equal(short, full.iloc[: len(done)])


def test_a_headline_moves_only_bars_from_its_cutoff_on():
    idx = pd.date_range("2024-01-01 10:00", periods=4, freq="15min", tz="UTC")
    item = _item("x", datetime(2024, 1, 1, 10, 7, tzinfo=UTC), 0.8)
    at_open = sentiment_feature(idx, "AAPL", [item], cutoff="open")["news_count"].tolist()
    at_close = sentiment_feature(idx, "AAPL", [item], cutoff="close")["news_count"].tolist()
    assert at_open == [0, 1, 0, 0]  # first bar opening after 10:07 is 10:15
    assert at_close == [1, 0, 0, 0]  # the 10:00 bar closes at 10:15, after 10:07


def test_accepts_a_frame_scores_missing_sentiment_and_filters_symbols():
    idx = pd.date_range("2024-01-02", periods=2, freq="D", tz="UTC")
    frame = pd.DataFrame(
        {
            "published": [T + timedelta(hours=1), T + timedelta(hours=2)],
            "symbols": ["AAPL,MSFT", "MSFT"],
            "sentiment": [None, 0.4],
            "title": ["Apple shares plunge", "Microsoft soars"],
        }
    )
    aapl = sentiment_feature(idx, "aapl", frame)
    assert aapl["news_count"].tolist() == [1, 0] and aapl.iloc[0]["news_sentiment"] < 0
    both = sentiment_feature(idx, None, frame)
    assert both["news_count"].tolist() == [2, 0]


def test_rejects_naive_or_unsorted_index():
    with pytest.raises(ValueError, match="UTC"):
        sentiment_feature(pd.date_range("2024-01-01", periods=2), "AAPL", [])
    with pytest.raises(ValueError, match="sorted"):
        sentiment_feature(pd.DatetimeIndex(["2024-01-02", "2024-01-01"], tz="UTC"), "AAPL", [])
