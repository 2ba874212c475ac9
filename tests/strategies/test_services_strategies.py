"""The facade: a strategy passed as a function or class from a notebook, the check in the report, the comparison, the refusal."""

import numpy as np
import pandas as pd
import pytest

from core import services
from core.strategies import user
from core.strategies.vectorised import Strategy


def above(bars, window=50):
    close = bars["close"]
    return (close > close.rolling(window).mean()).astype(float)


def peek(bars):
    return np.sign(bars["close"].shift(-1) - bars["close"]).fillna(0.0)


class FirstBar(Strategy):
    name = "first_bar"
    defaults = {"side": 1}

    def on_bar(self, ctx):
        for s in ctx.symbols:
            if len(ctx.history(s)) == 60:
                ctx.target(s, self.params["side"])


@pytest.fixture
def folder(ctx, tmp_path):
    path = tmp_path / "strategies"
    path.mkdir()
    user.configure(path)
    yield path
    user.configure(None)


def test_a_notebook_function_backtests_like_the_same_file(ctx, folder):
    (folder / "above.py").write_text("def signals(bars, window=50):\n    close = bars['close']\n"
                                     "    return (close > close.rolling(window).mean()).astype(float)\n")
    by_fn = services.backtest(strategy=above, symbol="MSFT", params={"window": 30}, commission=0.001, risk="permissive", ctx=ctx)
    by_name = services.backtest("above", symbol="MSFT", params={"window": 30}, commission=0.001, risk="permissive", ctx=ctx)
    assert by_fn.report["check"]["ok"] and by_fn.report["trades"] > 20
    assert by_fn.report["params"] == {"window": 30}
    pd.testing.assert_series_equal(by_fn.equity, by_name.equity)
    cls = services.backtest(strategy=FirstBar, symbol="MSFT", params={"side": -1}, risk="permissive", ctx=ctx)
    assert "check" not in cls.report and cls.orders[0].side.value == "sell"


def test_a_peeking_function_backtests_causally_under_a_warning(ctx):
    res = services.backtest(strategy=peek, symbol="AAPL", start="2010-01-01", risk="permissive", ctx=ctx)
    assert res.report["check"]["lookahead"] is True
    assert res.report["warnings"][0].startswith("LOOKS AHEAD: looks ahead: the value at bar 2010-01-")
    assert res.report["trades"] == 0  # bar by bar on past bars only, shift(-1) is always NaN -> 0: no free lunch


def test_compare_runs_the_library_on_the_same_bars(ctx):
    frames = services.lab_frames(["AAPL"], start="2008-01-01", end="2012-12-31")
    table, curves = services.compare_strategies(frames, ["macd_trend", "ts_momentum", "nope"], commission=0.001, risk="permissive")
    assert list(table.index) == ["macd_trend", "ts_momentum", "nope"]
    assert "unknown strategy 'nope'" in table.loc["nope", "error"]
    alone = services.lab_backtest(frames, "macd_trend", None, commission=0.001, risk="permissive")
    assert table.loc["macd_trend", "return_pct"] == alone.report["return_pct"] and table.loc["macd_trend", "check"] == "ok"
    assert set(curves) == {"macd_trend", "ts_momentum"}


def test_paper_start_refuses_a_failing_strategy_and_leaves_the_toggle_off(ctx, folder):
    (folder / "peeky.py").write_text("def signals(bars):\n    return (bars['close'].shift(-1) > bars['close']).astype(float)\n")
    ctx.settings.trading.strategy = "peeky"
    with pytest.raises(ValueError, match=r"refusing to trade strategy 'peeky': it fails the look-ahead check on AAPL: looks ahead"):
        services.paper_start(ctx=ctx)
    assert services.paper_status(ctx)["enabled"] is False
    (folder / "broken.py").write_text("def signals(bars):\n    return bars['close'] *\n")
    ctx.settings.trading.strategy = "broken"
    with pytest.raises(ValueError, match=r"broken.py:2: syntax error"):
        services.paper_start(ctx=ctx)
    ctx.settings.trading.strategy = "macd_trend"
    assert services.paper_start(ctx=ctx)["enabled"] is True
