"""The signals adapter: hand-computed fractional sizing, stops, and the window path equal to the full-frame path."""

import numpy as np
import pandas as pd
import pytest

from core.backtest import run_backtest
from core.domain import OrderType, Side
from core.engine import UNLIMITED
from core.strategies.library import LIBRARY
from core.strategies.vectorised import SignalStrategy, signal_strategy
from core.strategies.vectorised import StrategyError as AdapterError
from tests.conftest import ROOT


def bars_from(close, opens=None):
    close = np.asarray(close, dtype=float)
    opens = np.asarray(opens, dtype=float) if opens is not None else np.r_[close[0], close[:-1]]
    idx = pd.date_range("2024-01-01", periods=len(close), freq="D", tz="UTC", name="ts")
    return pd.DataFrame({"open": opens, "high": np.maximum(opens, close) + 1, "low": np.minimum(opens, close) - 1, "close": close,
                         "volume": 1e6}, index=idx)


def scripted(values):
    def signals(bars):
        return pd.Series(values[: len(bars)], index=bars.index, dtype=float)

    return signals


def fills(result):
    return [(f.side, f.quantity, f.price) for f in result.fills]


def test_fractional_exposure_scales_the_all_in_size_by_hand():
    close = [100, 100, 100, 102, 104, 105, 106, 103, 101, 100, 99]
    e = [np.nan, 0, 0.5, 0.5, 0.5, 1.0, 1.0, -0.25, -0.25, 0, np.nan]
    cls = signal_strategy(scripted(e), name="scripted", warmup=20)
    res = run_backtest(bars_from(close), cls(), cash=10_000, commission=0.001, path="event", baseline=False, risk=UNLIMITED)
    # Bar 2 decides 0.5: at bar 3's open (100) half the equity buys floor(5000 / (100 * 1.001)) = 49.
    q1 = 5000 // (100 * 1.001)
    cash = 10_000 - q1 * 100 * 1.001
    # Bar 5 decides 1.0 at close 105: all of equity there is floor(E / (105 * 1.001)); the difference is bought at bar 6's open.
    want = (cash + q1 * 105) // (105 * 1.001)
    cash -= (want - q1) * 105 * 1.001
    # Bar 7 decides -0.25: bar 8's open (103) closes everything, then a quarter of equity goes short.
    cash += want * 103 * 0.999
    short = (0.25 * cash) // (103 * 1.001)
    assert (q1, want - q1, want, short) == (49, 48, 97, 24)
    assert fills(res) == [(Side.BUY, q1, 100), (Side.BUY, want - q1, 105), (Side.SELL, want, 103), (Side.SELL, short, 103), (Side.BUY, short, 100)]


def test_a_protective_stop_closes_and_the_signal_must_change_before_reentry():
    close = [100, 100, 100, 100, 96, 94, 95, 96, 97, 98, 99, 100]
    e = [0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1]
    cls = signal_strategy(scripted(e), name="stopped", warmup=20, stop={"stop_pct": 0.05})
    res = run_backtest(bars_from(close), cls(), cash=10_000, path="event", baseline=False, risk=UNLIMITED)
    q = 10_000 // 100
    # entry at bar 2's open; bar 4's low (95) touches the 5 % stop; flat until the exposure goes 0 -> 1 (bar 8), re-entry at bar 9's open (97)
    assert fills(res)[:3] == [(Side.BUY, q, 100), (Side.SELL, q, 95), (Side.BUY, (10_000 - 5 * q) // 97, 97)]
    stops = [o for o in res.orders if o.order_type is OrderType.STOP]
    assert [round(o.stop_price, 6) for o in stops] == [95.0, round(97 * 0.95, 6)]
    with pytest.raises(AdapterError, match="stop_pct"):
        signal_strategy(scripted(e), name="bad", stop={"stop": 5})


@pytest.mark.parametrize("name", ["donchian_breakout", "vol_target_trend", "rsi_reversion"])
def test_window_evaluation_gives_the_orders_of_the_full_frame_evaluation(name):
    """The paper loop evaluates the function bar by bar on its warm-up window; a backtest once on the frame after the check."""
    m = LIBRARY[name]
    bars = pd.read_parquet(ROOT / "data/sample/MSFT__1d.parquet").iloc[-900:]
    cls = signal_strategy(m.signals, name=name, params=m.PARAMS, warmup=m.warmup)
    fast = cls()
    assert fast.prepare({"MSFT": bars}).ok and fast._full
    slow = cls()  # never prepared: every bar evaluates signals on the last warmup bars, as in the loop
    a = run_backtest(bars, fast, symbol="MSFT", commission=0.001, path="event", baseline=False, risk=UNLIMITED)
    b = run_backtest(bars, slow, symbol="MSFT", commission=0.001, path="event", baseline=False, risk=UNLIMITED)
    key = [(o.client_order_id, o.side, o.quantity, o.status) for o in a.orders]
    assert len(key) >= 8
    assert key == [(o.client_order_id, o.side, o.quantity, o.status) for o in b.orders]
    assert a.report["final_equity"] == b.report["final_equity"]


def test_a_look_ahead_function_is_never_evaluated_on_the_full_frame():
    bars = pd.read_parquet(ROOT / "data/sample/AAPL__1d.parquet").iloc[-400:]

    def peek(bars):
        return np.sign(bars["close"].shift(-1) - bars["close"]).fillna(0.0)

    strategy = signal_strategy(peek, warmup=5)()
    check = strategy.prepare({"AAPL": bars})
    assert check.lookahead and not strategy._full
    res = run_backtest(bars, strategy, symbol="AAPL", path="event", baseline=False, risk=UNLIMITED)
    # Causal evaluation: at each bar the last value of shift(-1) is NaN -> 0, so it never trades (no free lunch).
    assert res.report["trades"] == 0 and not res.fills


def test_parameters_follow_the_strategy_conventions():
    def signals(bars, window=20, level=0.5):
        return (bars["close"] > bars["close"].rolling(window).mean()).astype(float) * level

    cls = signal_strategy(signals, name="mine")
    assert issubclass(cls, SignalStrategy) and cls.defaults == {"window": 20, "level": 0.5}
    assert cls(window="30").get_params() == {"window": 30, "level": 0.5}  # coerced to the default's type
    with pytest.raises(AdapterError, match="did you mean 'window'"):
        cls(windows=10)
    assert cls().warmup_bars() == 250  # undeclared: the default, which the check then verifies
