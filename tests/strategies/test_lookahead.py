"""The look-ahead check against brute force: every bar truncated, on real bundled bars."""

import re

import numpy as np
import pandas as pd
import pytest

from core.strategies.library import LIBRARY
from core.strategies.lookahead import ContractError, call_signals, check_signals
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def aapl():
    return pd.read_parquet(ROOT / "data/sample/AAPL__1d.parquet")


def peek(bars, n=20):
    close = bars["close"]
    return (close.shift(-1) > close.rolling(n).mean()).astype(float)


def zscore(bars):
    close = bars["close"]
    return ((close - close.mean()) / close.std()).clip(-1, 1)


def cumulative(bars):
    return np.sign(bars["close"].pct_change().fillna(0).cumsum() - 0.5)


def ema_trend(bars, span=50):
    close = bars["close"]
    return np.sign(close - close.ewm(span=span, adjust=False).mean())


def brute_force_offending(fn, bars):
    """Every bar t whose value computed on bars[: t + 1] differs from the full-frame value."""
    full = fn(bars).to_numpy(dtype=float)
    bad = []
    for t in range(len(bars)):
        v = float(fn(bars.iloc[: t + 1]).iloc[-1])
        if not np.isclose(v, full[t], rtol=1e-9, atol=1e-9, equal_nan=True):
            bad.append(t)
    return bad


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_every_library_strategy_passes_on_two_markets(name):
    module = LIBRARY[name]
    for symbol in ("AAPL", "BTC-USD"):
        bars = pd.read_parquet(ROOT / f"data/sample/{symbol}__1d.parquet")
        result = check_signals(module.signals, bars, module.PARAMS, warmup=module.warmup(**module.PARAMS), name=name)
        assert result.ok, result.summary()
        assert result.tested >= 40 and not result.lookahead


def test_shift_minus_one_names_the_first_offending_bar_like_brute_force(aapl):
    bars = aapl.iloc[:300]
    truth = brute_force_offending(peek, bars)
    assert truth, "the fixture must look ahead somewhere"
    exhaustive = check_signals(peek, bars, samples=len(bars))
    assert exhaustive.lookahead and not exhaustive.ok
    problem = exhaustive.problems[0]
    assert problem.bar == str(bars.index[truth[0]])
    full = peek(bars).to_numpy()
    assert problem.difference == abs(float(peek(bars.iloc[: truth[0] + 1]).iloc[-1]) - full[truth[0]]) == 1.0
    assert f"bar #{truth[0]}" in problem.message and "test_lookahead.py" in problem.message


def test_sampled_check_names_a_bar_that_really_looks_ahead(aapl):
    result = check_signals(peek, aapl, warmup=30)
    assert result.lookahead and result.problems[0].kind == "lookahead"
    named = aapl.index.get_loc(pd.Timestamp(result.problems[0].bar))
    assert float(peek(aapl.iloc[: named + 1]).iloc[-1]) != float(peek(aapl).iloc[named])
    assert result.tested < 200  # sampled, not every bar


def test_full_sample_zscore_is_caught_at_its_first_bar(aapl):
    result = check_signals(zscore, aapl)
    assert result.lookahead
    first = result.problems[0]
    bars = aapl.iloc[:2]
    assert first.bar == str(aapl.index[1])  # bar 0's std is NaN: bar 1 is the first that can differ
    assert first.difference == pytest.approx(abs(float(zscore(bars).iloc[1]) - float(zscore(aapl).iloc[1])))


def test_recursive_statistics_fail_the_warm_up_test_but_are_not_look_ahead(aapl):
    cum = check_signals(cumulative, aapl, warmup=100)
    assert not cum.ok and not cum.lookahead and cum.problems[0].kind == "warmup"
    short = check_signals(ema_trend, aapl, warmup=20)
    assert short.problems and short.problems[0].kind == "warmup"
    # (1 - 2/51)^1000 ~ 5e-18: with that much declared history the EMA has forgotten its seed
    assert check_signals(ema_trend, aapl, warmup=1000).ok


def test_the_warm_up_hint_names_a_window_that_then_passes(aapl):
    msft = pd.read_parquet(ROOT / "data/sample/MSFT__1d.parquet")
    for bars in (aapl, msft):
        short = check_signals(ema_trend, bars, warmup=20)
        n = int(re.search(r"declare WARMUP = (\d+)", short.problems[0].message).group(1))
        assert n > 20 and check_signals(ema_trend, bars, warmup=n).ok
    # A cumulative sum never settles on MSFT: no window is suggested, the cause is named instead.
    assert "depends on all earlier history" in check_signals(cumulative, msft, warmup=100).problems[0].message


def test_contract_violations_say_what_and_where(aapl):
    def frame(bars):
        return bars[["close"]]

    def short(bars):
        return bars["close"].iloc[1:] * 0

    def too_big(bars):
        return bars["close"] * 10

    def boom(bars):
        raise RuntimeError("bad idea")

    for fn, text in ((frame, "got a DataFrame"), (short, "got 3259 values for 3260 bars"), (too_big, "exposures in [-1, 1]"), (boom, "raised RuntimeError")):
        with pytest.raises(ContractError, match=re.escape(text)) as info:
            call_signals(fn, aapl, {})
        assert "test_lookahead.py:" in str(info.value)
        result = check_signals(fn, aapl)
        assert not result.ok and result.problems[0].kind in ("contract", "error")
    with pytest.raises(ContractError) as info:
        call_signals(boom, aapl, {})
    assert f"test_lookahead.py:{boom.__code__.co_firstlineno + 1}" in str(info.value)  # the raising line


def test_the_function_never_sees_a_frame_it_can_change(aapl):
    def mutate(bars):
        bars["close"] = 0.0
        return bars["close"]

    before = aapl["close"].copy()
    check_signals(mutate, aapl.iloc[:100])
    pd.testing.assert_series_equal(aapl["close"], before)
