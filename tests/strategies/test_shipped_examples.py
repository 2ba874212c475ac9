"""The project's own ``strategies/`` folder: where a fresh clone looks, with a commented example of each kind."""

import pandas as pd

from core.backtest import run_backtest
from core.domain import OrderType
from core.engine import UNLIMITED, StopPolicy
from core.strategies import user
from core.strategies.vectorised import SignalStrategy
from tests.conftest import ROOT

FOLDER = ROOT / "strategies"


def test_the_default_folder_ships_with_a_readme_and_two_examples():
    assert user.DEFAULT_DIR == FOLDER and FOLDER.is_dir()
    assert {"README.md", "example_trend.py", "example_bracket.py"} <= {p.name for p in FOLDER.iterdir()}
    readme = (FOLDER / "README.md").read_text()
    assert "strategy new" in readme and "strategy check" in readme and "APP__STRATEGIES__DIR" in readme


def test_the_signals_example_loads_and_passes_the_check_on_two_markets():
    entry = user.load_file(FOLDER / "example_trend.py")
    assert entry.error is None and list(entry.strategies) == ["example_trend"]
    cls = entry.strategies["example_trend"]
    assert issubclass(cls, SignalStrategy) and cls.defaults == {"window": 50} and cls().warmup_bars() == 60
    for symbol in ("AAPL", "BTC-USD"):
        bars = pd.read_parquet(ROOT / f"data/sample/{symbol}__1d.parquet")
        result = cls().check(bars)
        assert result.ok, result.summary()


def test_the_bracket_example_exits_each_entry_once_at_its_own_prices():
    entry = user.load_file(FOLDER / "example_bracket.py")
    assert entry.error is None and list(entry.strategies) == ["example_bracket"]
    cls = entry.strategies["example_bracket"]
    bars = pd.read_parquet(ROOT / "data/sample/MSFT__1d.parquet")
    # With the protective stop of risk.stop on, as in paper trading: the bracket's own stop is the protection.
    res = run_backtest(bars, cls(), symbol="MSFT", path="event", baseline=False, risk=UNLIMITED, stop=StopPolicy("percent", percent=0.05))
    fills = res.fills
    if len(fills) % 2:  # the last entry is still open at the end
        assert fills[-1].side.value == "buy"
        fills = fills[:-1]
    assert len(fills) >= 20
    by_id = {o.client_order_id: o for o in res.orders}
    for buy, sell in zip(fills[::2], fills[1::2], strict=True):
        assert (buy.side.value, sell.side.value, buy.quantity) == ("buy", "sell", sell.quantity)  # flat after each exit, never short
        exit_order = by_id[sell.client_order_id]
        assert exit_order.parent_id == buy.client_order_id  # the exit is one of the entry's own two legs
        decided = bars["close"].iloc[bars.index.get_loc(pd.Timestamp(buy.ts)) - 1]  # the breakout bar's close sets both prices
        if exit_order.order_type is OrderType.LIMIT:
            assert sell.price >= decided * 1.10 - 1e-9
        else:
            assert exit_order.stop_price == decided * 0.95 and sell.price <= decided * 0.95 + 1e-9
