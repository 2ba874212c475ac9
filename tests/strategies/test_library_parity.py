"""Each library strategy against an independent backtesting.py implementation of the same rules.

The reference strategies below compute their indicators with plain Python loops (no
pandas rolling, no code shared with ``core``) and keep their state in backtesting.py's
own ``position``. Conventions that make the two engines agree (see
``tests/test_backtest_parity.py``): next-bar-open fills, all-in whole-share sizing at the
fill, commission on both sides, a reversal closes then opens (``exclusive_orders=True``).
A library exposure of +1/-1/0 maps to long/short/flat. Each strategy runs in both of its
modes (``long_short`` and ``long_flat``). The volatility-targeted trend runs twice: with a
target so high that its exposure is always a full +1/-1 (long and short), and with its
default 15 % target in ``long_flat`` mode, where its exposure moves in 0.25 steps and the
reference resizes the position the same way with partial buys and sells (shorts are left
out there: backtesting.py prices the margin of a growing short with the close of the bar
the order fills in, which no live account can know at the open).
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

    short = True  # long_short mode; False: long_flat (a short signal means flat)

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
    short = False

    def init(self):
        self.r = self.I(lambda c: np.array(_rsi(list(c), 14)), self.data.Close)

    def next(self):
        r, s = self.r[-1], self.state()
        if math.isnan(r):
            return
        if s <= 0 and r < 30:
            self.go(1)
        elif s >= 0 and self.short and r > 70:
            self.go(-1)
        elif (s > 0 and r > 50) or (s < 0 and r < 50):
            self.go(0)


class BollingerRef(Ref):
    short = False

    def init(self):
        c = list(self.data.Close)
        self.mid = self.I(lambda _: np.array(_sma(c, 20)), self.data.Close)
        self.sd = self.I(lambda _: np.array(_pstd(c, 20)), self.data.Close)

    def next(self):
        c, m, w, s = self.data.Close[-1], self.mid[-1], 2 * self.sd[-1], self.state()
        if math.isnan(m):
            return
        if s <= 0 and c < m - w:
            self.go(1)
        elif s >= 0 and self.short and c > m + w:
            self.go(-1)
        elif (s > 0 and c >= m) or (s < 0 and c <= m):
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
        elif s >= 0 and self.short and c < down:
            self.go(-1)
        elif (s > 0 and c < exit_low) or (s < 0 and c > exit_high):
            self.go(0)


class MomentumRef(Ref):
    def next(self):
        i = len(self.data) - 1
        if i >= 252:
            c = self.data.Close
            self.go(1 if c[-1] > c[-253] else (-1 if self.short else 0) if c[-1] < c[-253] else 0)


class MacdRef(Ref):
    def init(self):
        c = list(self.data.Close)
        macd = [a - b for a, b in zip(_ema(c, 12), _ema(c, 26), strict=True)]
        sig = _ema(macd, 9)
        self.h = self.I(lambda _: np.array([a - b for a, b in zip(macd, sig, strict=True)]), self.data.Close)

    def next(self):
        if len(self.data) - 1 >= 35:
            self.go(1 if self.h[-1] > 0 else (-1 if self.short else 0) if self.h[-1] < 0 else 0)


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
MODES = [(name, mode) for name in sorted(CASES) for mode in ("long_short", "long_flat") if not (name == "vol_target_trend" and mode == "long_flat")]
# Fading every AAPL rally all-in goes bankrupt in 2000-2013 (backtesting.py then stops trading): the faders short MSFT instead.
SYMBOL = {("rsi_reversion", "long_short"): "MSFT", ("bollinger_reversion", "long_short"): "MSFT"}


@pytest.mark.parametrize(("name", "mode"), MODES, ids=[f"{n}-{m}" for n, m in MODES])
def test_library_strategy_matches_backtesting_py(name, mode):
    ref, overrides = CASES[name]
    module = LIBRARY[name]
    symbol = SYMBOL.get((name, mode), "AAPL")
    bars = pd.read_parquet(ROOT / f"data/sample/{symbol}__1d.parquet")
    peer_bars = bars.rename(columns=str.capitalize).tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = Backtest(peer_bars, ref, cash=CASH, commission=COMMISSION, exclusive_orders=True).run(short=mode == "long_short")
    strategy = signal_strategy(module.signals, name=name, params=module.PARAMS, warmup=module.warmup)(**overrides, mode=mode)
    assert strategy.prepare({symbol: bars}).ok
    ours = run_backtest(bars, strategy, symbol=symbol, cash=CASH, commission=COMMISSION, path="event", baseline=False, risk=UNLIMITED)
    theirs = peer._trades
    assert peer._equity_curve["Equity"].min() > 0, "a bankrupt reference stops trading: pick other data"
    assert peer["# Trades"] > 5, "the reference must trade for the comparison to mean anything"
    assert bool((theirs["Size"] < 0).any()) is (mode == "long_short"), "long_short must short somewhere, long_flat never"
    assert ours.report["trades"] == peer["# Trades"]
    assert ours.report["final_equity"] == pytest.approx(peer["Equity Final [$]"], rel=1e-6)
    assert list(ours.trades["quantity"]) == list(theirs["Size"].astype(float))
    assert list(ours.trades["entry_ts"].dt.tz_localize(None)) == list(pd.DatetimeIndex(theirs["EntryTime"]))
    np.testing.assert_allclose(ours.equity.to_numpy(), peer._equity_curve["Equity"].to_numpy(), rtol=1e-9)


def _log_vol(close, n, periods):
    """Sample standard deviation (n - 1) of the last ``n`` log returns, annualised; NaN until there are ``n``."""
    r = [math.nan] + [math.log(close[i] / close[i - 1]) for i in range(1, len(close))]
    out = []
    for i in range(len(close)):
        w = r[i - n + 1 : i + 1] if i >= n else []
        if len(w) < n:
            out.append(math.nan)
            continue
        m = sum(w) / n
        out.append(math.sqrt(sum((v - m) ** 2 for v in w) / (n - 1)) * math.sqrt(periods))
    return out


class VolTargetRef(BtStrategy):
    """Long (or flat) on the 100-bar trend, holding ``min(1, 15 % / realised vol)`` of equity in 0.25 steps.

    A new position is sized by backtesting.py at the fill (a fraction of equity); a change of
    step on the same side buys or sells the difference, estimated at the close as the
    documented rule says: ``int(exposure * equity // (close * (1 + commission)))`` minus what is held.
    """

    def init(self):
        close = list(self.data.Close)
        mean, vol = _sma(close, 100), _log_vol(close, 20, 252)
        self.e = [0.0 if math.isnan(m) or math.isnan(v) or c <= m else math.floor(min(1.0, 0.15 / v) / 0.25 + 1e-9) * 0.25
                  for c, m, v in zip(close, mean, vol, strict=True)]
        self.held, self.sizes = None, []

    def next(self):
        self.sizes.append((len(self.data) - 1, self.position.size))  # after this bar's open fills
        e, size = self.e[len(self.data) - 1], self.position.size
        if size == 0 and e > 0:
            self.buy(size=min(e, 1 - 1e-12))  # backtesting.py reads a size of exactly 1 as one share
        elif size > 0 and e == 0:
            self.position.close()
        elif size > 0 and e != self.held:
            delta = int(e * self.equity // (self.data.Close[-1] * (1 + COMMISSION))) - size
            if delta >= 1:
                self.buy(size=delta)
            elif delta <= -1:
                self.sell(size=-delta)
        self.held = e


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT", "BTC-USD"])
def test_volatility_targeted_fractions_match_backtesting_py_share_for_share(symbol):
    bars = pd.read_parquet(ROOT / f"data/sample/{symbol}__1d.parquet")
    module = LIBRARY["vol_target_trend"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = Backtest(bars.rename(columns=str.capitalize).tz_localize(None), VolTargetRef, cash=CASH, commission=COMMISSION).run()
    reference = peer._strategy
    strategy = signal_strategy(module.signals, name="vol_target_trend", params=module.PARAMS, warmup=module.warmup)(mode="long_flat")
    assert strategy.prepare({symbol: bars}).ok
    ours = run_backtest(bars, strategy, symbol=symbol, cash=CASH, commission=COMMISSION, path="event", baseline=False, risk=UNLIMITED)
    np.testing.assert_array_equal(strategy.exposures(bars), np.array(reference.e))  # the same rules, written twice
    assert {0.25, 0.5, 0.75} <= set(reference.e)  # fractions, not just all-in
    held = pd.Series([f.quantity if f.side.value == "buy" else -f.quantity for f in ours.fills],
                     index=pd.DatetimeIndex([f.ts for f in ours.fills])).groupby(level=0).sum().cumsum()
    ours_sizes = held.reindex(bars.index, method="ffill").fillna(0.0).to_numpy()
    resized = sum(1 for (_, a), (_, b) in zip(reference.sizes, reference.sizes[1:], strict=False) if a and b and a != b)
    assert resized >= 5, "the reference must resize a held position for the comparison to mean anything"
    assert [ours_sizes[i] for i, _ in reference.sizes] == [float(n) for _, n in reference.sizes]  # the position at every bar
    assert ours.report["final_equity"] == pytest.approx(peer["Equity Final [$]"], rel=1e-9)
    np.testing.assert_allclose(ours.equity.to_numpy(), peer._equity_curve["Equity"].to_numpy(), rtol=1e-9)
