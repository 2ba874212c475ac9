"""Each library strategy against an independent backtesting.py implementation of the same rules.

The reference strategies below compute their indicators with plain Python loops (no
pandas rolling, no code shared with ``core``) and keep their state in backtesting.py's
own ``position``. Conventions that make the two engines agree (see
``tests/test_backtest_parity.py``): next-bar-open fills, all-in whole-share sizing at the
fill, commission on both sides, a reversal closes then opens (``exclusive_orders=True``).
A library exposure of +1/-1/0 maps to long/short/flat; the volatility-targeted trend runs
with a target so high that its exposure is always a full +1/-1 (its fractional sizing is
checked by hand in ``test_vectorised.py``).
"""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest
from backtesting import Strategy as BtStrategy

from core.backtest import run_backtest
from core.engine import UNLIMITED
from core.strategies.library import LIBRARY
from core.strategies.vectorised import signal_strategy
from tests.conftest import ROOT

CASH, COMMISSION = 100_000, 0.002


@pytest.fixture(scope="module")
def bars():
    return pd.read_parquet(ROOT / "data/sample/AAPL__1d.parquet")


def _sma(x, n):
    return [math.nan if i < n - 1 else sum(x[i - n + 1 : i + 1]) / n for i in range(len(x))]


def _pstd(x, n):
    out = []
    for i in range(len(x)):
        if i < n - 1:
            out.append(math.nan)
            continue
        w = x[i - n + 1 : i + 1]
        m = sum(w) / n
        out.append(math.sqrt(sum((v - m) ** 2 for v in w) / n))
    return out


def _ema(x, span):
    a = 2 / (span + 1)
    out, e = [], x[0]
    for v in x:
        e = a * v + (1 - a) * e
        out.append(e)
    return out


def _rsi(close, n):
    out = [math.nan] * len(close)
    gains = [max(close[i] - close[i - 1], 0.0) for i in range(1, len(close))]
    losses = [max(close[i - 1] - close[i], 0.0) for i in range(1, len(close))]
    g, l_ = sum(gains[:n]) / n, sum(losses[:n]) / n
    for i in range(n, len(close)):
        if i > n:
            g = (g * (n - 1) + gains[i - 1]) / n
            l_ = (l_ * (n - 1) + losses[i - 1]) / n
        out[i] = 100.0 if l_ == 0 else 100 - 100 / (1 + g / l_)
    return out


class Ref(BtStrategy):
    """Shared order logic: go to the state the rules give, as a trader in backtesting.py would."""

    def init(self):
        pass

    def go(self, want):
        pos = self.position
        if want > 0 and not pos.is_long:
            self.buy()
        elif want < 0 and not pos.is_short:
            self.sell()
        elif want == 0 and pos:
            pos.close()

    def state(self):
        return 1 if self.position.is_long else -1 if self.position.is_short else 0


class RsiRef(Ref):
    def init(self):
        self.r = self.I(lambda c: np.array(_rsi(list(c), 14)), self.data.Close)

    def next(self):
        r, s = self.r[-1], self.state()
        if math.isnan(r):
            return
        if s == 0 and r < 30:
            self.go(1)
        elif s > 0 and r > 50:
            self.go(0)


class BollingerRef(Ref):
    def init(self):
        c = list(self.data.Close)
        self.mid = self.I(lambda _: np.array(_sma(c, 20)), self.data.Close)
        self.sd = self.I(lambda _: np.array(_pstd(c, 20)), self.data.Close)

    def next(self):
        c, m, w, s = self.data.Close[-1], self.mid[-1], 2 * self.sd[-1], self.state()
        if math.isnan(m):
            return
        if s == 0 and c < m - w:
            self.go(1)
        elif s > 0 and c >= m:
            self.go(0)


class DonchianRef(Ref):
    def next(self):
        i = len(self.data) - 1
        if i < 20:
            return
        hi, lo, c, s = list(self.data.High), list(self.data.Low), self.data.Close[-1], self.state()
        up, down = max(hi[i - 20 : i]), min(lo[i - 20 : i])
        exit_low, exit_high = min(lo[i - 10 : i]), max(hi[i - 10 : i])
        if s <= 0 and c > up:
            self.go(1)
        elif s >= 0 and c < down:
            self.go(-1)
        elif (s > 0 and c < exit_low) or (s < 0 and c > exit_high):
            self.go(0)


class MomentumRef(Ref):
    def next(self):
        i = len(self.data) - 1
        if i >= 252:
            c = self.data.Close
            self.go(1 if c[-1] > c[-253] else -1 if c[-1] < c[-253] else 0)


class MacdRef(Ref):
    def init(self):
        c = list(self.data.Close)
        macd = [a - b for a, b in zip(_ema(c, 12), _ema(c, 26), strict=True)]
        sig = _ema(macd, 9)
        self.h = self.I(lambda _: np.array([a - b for a, b in zip(macd, sig, strict=True)]), self.data.Close)

    def next(self):
        if len(self.data) - 1 >= 35:
            self.go(1 if self.h[-1] > 0 else -1 if self.h[-1] < 0 else 0)


class TrendRef(Ref):
    def init(self):
        # A plain list, not self.I: backtesting.py would start trading only after an indicator's NaN warm-up.
        self.m = _sma(list(self.data.Close), 100)

    def next(self):
        i = len(self.data) - 1
        if i >= 99:  # both the 100-bar average (from bar 99) and the 20-return volatility (from bar 20) exist
            c, m = self.data.Close[-1], self.m[i]
            self.go(1 if c > m else -1 if c < m else 0)


CASES = {
    "rsi_reversion": (RsiRef, {}),
    "bollinger_reversion": (BollingerRef, {}),
    "donchian_breakout": (DonchianRef, {}),
    "ts_momentum": (MomentumRef, {}),
    "macd_trend": (MacdRef, {}),
    "vol_target_trend": (TrendRef, {"target_vol": 10.0}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_library_strategy_matches_backtesting_py(bars, name):
    ref, overrides = CASES[name]
    module = LIBRARY[name]
    peer_bars = bars.rename(columns=str.capitalize).tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = Backtest(peer_bars, ref, cash=CASH, commission=COMMISSION, exclusive_orders=True).run()
    strategy = signal_strategy(module.signals, name=name, params=module.PARAMS, warmup=module.warmup)(**overrides)
    assert strategy.prepare({"AAPL": bars}).ok
    ours = run_backtest(bars, strategy, symbol="AAPL", cash=CASH, commission=COMMISSION, path="event", baseline=False, risk=UNLIMITED)
    theirs = peer._trades
    assert peer["# Trades"] > 5, "the reference must trade for the comparison to mean anything"
    assert ours.report["trades"] == peer["# Trades"]
    assert ours.report["final_equity"] == pytest.approx(peer["Equity Final [$]"], rel=1e-6)
    assert list(ours.trades["quantity"]) == list(theirs["Size"].astype(float))
    assert list(ours.trades["entry_ts"].dt.tz_localize(None)) == list(pd.DatetimeIndex(theirs["EntryTime"]))
    np.testing.assert_allclose(ours.equity.to_numpy(), peer._equity_curve["Equity"].to_numpy(), rtol=1e-9)
