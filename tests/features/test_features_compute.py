"""Feature set: size, warm-up, values against pandas/NumPy references, scale invariance."""

import numpy as np
import pandas as pd
import pytest

from core import services
from core.features import CANDLES, FeatureConfig, compute, feature_hash


@pytest.fixture(scope="module")
def aapl():
    return services.load_bars("AAPL").iloc[:700]


@pytest.fixture(scope="module")
def feats(aapl):
    return compute(aapl)


def test_has_at_least_100_float_columns_on_the_same_index(aapl, feats):
    assert feats.shape[1] >= 100
    assert feats.index.equals(aapl.index)
    assert set(feats.dtypes) == {np.dtype("float64")}
    assert feats.columns.is_unique


@pytest.mark.parametrize("symbol", ["AAPL", "SPX", "BTC-USD"])
def test_no_nan_or_inf_after_the_warm_up(symbol):
    bars = services.load_bars(symbol).iloc[:800]
    f = compute(bars)
    after = f.iloc[FeatureConfig().warmup :]
    assert not after.isna().any().any(), after.columns[after.isna().any()].tolist()
    assert np.isfinite(after.to_numpy()).all()


def test_columns_match_pandas_references(aapl, feats):
    c = aapl["close"]
    logret = np.log(c).diff()
    pd.testing.assert_series_equal(feats["sma_20"], c.rolling(20).mean() / c - 1, check_names=False, rtol=1e-10)
    pd.testing.assert_series_equal(feats["ret_5"], np.log(c / c.shift(5)), check_names=False, rtol=1e-10)
    # TA-Lib's STDDEV is the population standard deviation (ddof=0).
    pd.testing.assert_series_equal(feats["rv_20"], logret.rolling(20).std(ddof=0), check_names=False, rtol=1e-6)
    mid, sd = c.rolling(20).mean(), c.rolling(20).std(ddof=0)
    pd.testing.assert_series_equal(feats["bb_pctb"], (c - (mid - 2 * sd)) / (4 * sd), check_names=False, rtol=1e-6)
    pd.testing.assert_series_equal(feats["dd_20"], c / aapl["high"].rolling(20).max() - 1, check_names=False, rtol=1e-10)
    lv = np.log1p(aapl["volume"])
    z = (lv - lv.rolling(20).mean()) / lv.rolling(20).std(ddof=0)
    pd.testing.assert_series_equal(feats["vol_z_20"].iloc[30:], z.iloc[30:], check_names=False, rtol=1e-5)


def test_rsi_matches_wilders_definition(aapl, feats):
    # Wilder's RSI: seed with the simple mean of the first 14 moves, then smooth with alpha = 1/14.
    c = aapl["close"].to_numpy()
    d = np.diff(c)
    up, dn = np.clip(d, 0, None), np.clip(-d, 0, None)
    au, ad = up[:14].mean(), dn[:14].mean()
    rsi = [100 - 100 / (1 + au / ad)]
    for u, v in zip(up[14:], dn[14:], strict=True):
        au, ad = (au * 13 + u) / 14, (ad * 13 + v) / 14
        rsi.append(100 - 100 / (1 + au / ad))
    np.testing.assert_allclose(feats["rsi_14"].to_numpy()[14:], rsi, rtol=1e-9)


def test_calendar_features_encode_the_weekday(aapl, feats):
    monday = aapl.index.day_of_week == 0
    np.testing.assert_allclose(feats.loc[monday, "dow_sin"], 0.0, atol=1e-12)
    np.testing.assert_allclose(feats.loc[monday, "dow_cos"], 1.0)


def test_price_features_do_not_depend_on_the_price_level(aapl, feats):
    scaled = aapl.copy()
    scaled[["open", "high", "low", "close"]] *= 37.0
    other = compute(scaled)
    w = FeatureConfig().warmup
    candles = [c.lower() for c in CANDLES]
    cont = [c for c in feats.columns if c not in candles]
    np.testing.assert_allclose(other[cont].iloc[w:].to_numpy(), feats[cont].iloc[w:].to_numpy(), rtol=1e-6, atol=1e-8)
    # Patterns compare bodies with thresholds: rounding at 37x may flip a borderline bar, nothing more.
    assert (other[candles].iloc[w:] == feats[candles].iloc[w:]).to_numpy().mean() > 0.999


def test_missing_column_is_a_clear_error(aapl):
    with pytest.raises(ValueError, match="lack columns \\['volume'\\]"):
        compute(aapl.drop(columns="volume"))


def test_feature_hash_changes_with_the_configuration(feats):
    cols = list(feats.columns)
    assert feature_hash(cols) == feature_hash(cols)
    assert feature_hash(cols) != feature_hash(cols, FeatureConfig(ma_windows=(5, 10)))


@pytest.mark.parametrize(("symbol", "timeframe"), [("AAPL", "1d"), ("BTC-USD", "15m")])
def test_last_rows_are_the_full_frames_last_rows_bit_for_bit(symbol, timeframe):
    """The trading loop asks for the newest rows only; they must be exactly those of the whole window."""
    bars = services.load_bars(symbol, timeframe=timeframe).iloc[:400].copy()
    # A flat bar with no volume (divisions by zero: the 0 and inf clean-ups) inside the last rows.
    bars.iloc[-3, :4] = bars["close"].iloc[-4]
    bars.iloc[-3, 4] = 0.0
    window = bars.iloc[-300:]
    whole = compute(window)
    for last in (1, 4, 60, 300, 500):
        tail = compute(window, last=last)
        expected = whole.iloc[-last:]
        assert tail.index.equals(expected.index) and tail.columns.equals(expected.columns)
        assert np.array_equal(tail.to_numpy(), expected.to_numpy(), equal_nan=True), last
