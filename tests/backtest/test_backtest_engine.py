"""The backtester: no look-ahead, compiled path equals event path, stats vs empyrical, multi-asset, risk hook."""

import math
from datetime import UTC

import empyrical
import numpy as np
import pandas as pd
import pytest
from backtesting.test import GOOG

from core import services
from core.backtest import run_backtest
from core.brokers.paper import PaperBroker
from core.brokers.paper.fill_model import FillModel
from core.clock import FixedClock
from core.domain import Bar, OrderStatus, RiskAction, RiskDecision
from core.engine import Engine, Strategy, StrategyError
from core.execution import repo
from core.execution.manager import OrderManager
from core.risk.hook import UNLIMITED
from core.strategies import make_strategy


def _same_run(a, b, upto=None):
    ea, eb = a.equity, b.equity
    if upto is not None:
        ea, eb = ea.iloc[:upto], eb.iloc[:upto]
    assert np.array_equal(ea.to_numpy(), eb.to_numpy()) and ea.index.equals(eb.index)


def test_results_on_data_truncated_at_t_are_identical_up_to_t():
    full = run_backtest(GOOG, "sma_cross", symbol="GOOG", cash=10_000, commission=0.002, path="event", baseline=False, risk=UNLIMITED)
    cut = 1_000
    part = run_backtest(GOOG.iloc[:cut], "sma_cross", symbol="GOOG", cash=10_000, commission=0.002, path="event", baseline=False, risk=UNLIMITED)
    _same_run(full, part, upto=cut)
    t = GOOG.index[cut - 1].tz_localize(UTC)
    closed_full = full.trades[full.trades["exit_ts"] <= t].reset_index(drop=True)
    pd.testing.assert_frame_equal(closed_full, part.trades)
    placed_full = [o for o in full.orders if o.created_at <= t]
    assert [(o.client_order_id, o.side, o.created_at) for o in placed_full] == [(o.client_order_id, o.side, o.created_at) for o in part.orders]


class Spy(Strategy):
    name = "spy"

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_bar(self, ctx):
        h = ctx.history("GOOG")
        self.seen.append((ctx.now, len(h), float(h.close[-1]), h.frame().index[-1]))
        with pytest.raises(ValueError):
            h.close[-1] = 0.0  # history is read-only


def test_a_strategy_sees_only_bars_up_to_now():
    data = GOOG.iloc[:40]
    spy = Spy()
    run_backtest(data, spy, symbol="GOOG", path="event", baseline=False, risk=UNLIMITED)
    assert len(spy.seen) == 40
    for i, (now, n, last_close, last_ts) in enumerate(spy.seen):
        assert n == i + 1 and last_close == data["Close"].iloc[i]
        assert now == last_ts == data.index[i].tz_localize(UTC)


@pytest.mark.parametrize(
    ("symbol", "params", "commission", "size"),
    [
        ("AAPL", {"fast": 10, "slow": 30, "mode": "long_flat"}, 0.001, 0.5),
        ("BTC-USD", {"fast": 5, "slow": 20}, 0.001, 1.0),
        ("SPX", {"fast": 20, "slow": 50}, 0.0, 1.0),
        ("BTC-USD", {"fast": 5, "slow": 15, "mode": "long_flat"}, 0.001, 0.001),
    ],
)
def test_compiled_path_gives_the_same_result_as_the_event_path_on_real_data(ctx, symbol, params, commission, size):
    bars = services.load_bars(symbol).iloc[-1500:]
    # The last case trades fractional bitcoin: lots of 0.001 with only 1,000 of cash.
    cash, lot = (1_000, 0.001) if size == 0.001 else (100_000, 1.0)
    size = 1.0 if size == 0.001 else size
    kw = {"symbol": symbol, "params": params, "cash": cash, "commission": commission, "size": size, "baseline": False, "lot_size": lot, "risk": UNLIMITED}
    event = run_backtest(bars, "sma_cross", path="event", **kw)
    fast = run_backtest(bars, "sma_cross", path="fast", **kw)
    assert event.report["trades"] > 10
    _same_run(event, fast)
    pd.testing.assert_frame_equal(event.trades, fast.trades)
    for key in ("final_equity", "sharpe", "sortino", "max_drawdown_pct", "exposure_pct", "win_rate_pct", "fees", "trades"):
        assert event.report[key] == fast.report[key], key


def test_report_statistics_agree_with_empyrical():
    res = run_backtest(GOOG, "sma_cross", symbol="GOOG", cash=10_000, commission=0.002, baseline=False, risk=UNLIMITED)
    rets = res.equity.pct_change().dropna().to_numpy()
    rep = res.report
    assert rep["periods_per_year"] == 252
    assert rep["sharpe"] == pytest.approx(empyrical.sharpe_ratio(rets, annualization=252), rel=1e-9)
    assert rep["sortino"] == pytest.approx(empyrical.sortino_ratio(rets, annualization=252), rel=1e-9)
    assert rep["max_drawdown_pct"] == pytest.approx(-100 * empyrical.max_drawdown(rets), rel=1e-9)  # a positive percent
    assert rep["volatility_pct"] == pytest.approx(100 * empyrical.annual_volatility(rets, annualization=252), rel=1e-9)
    assert rep["cagr_pct"] == pytest.approx(100 * empyrical.cagr(rets, annualization=252), rel=1e-9)
    assert rep["calmar"] == pytest.approx(empyrical.calmar_ratio(rets, annualization=252), rel=1e-9)
    pnl = res.trades["pnl"]
    assert rep["profit_factor"] == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl < 0].sum())
    assert rep["expectancy"] == pytest.approx(pnl.mean())
    # In the market from the first entry (bar 63, as in backtesting.py's trade list) to the end, always reversing.
    assert rep["exposure_pct"] == pytest.approx(100 * (2148 - 63) / 2148)


def test_buy_and_hold_baseline_matches_a_hand_computation():
    cash, c = 10_000.0, 0.002
    res = run_backtest(GOOG, "sma_cross", symbol="GOOG", cash=cash, commission=c, risk=UNLIMITED)
    o1, last = GOOG["Open"].iloc[1], GOOG["Close"].iloc[-1]
    q = cash // (o1 + o1 * c)
    expected = cash - q * o1 - q * o1 * c + q * last
    assert res.baseline["final_equity"] == pytest.approx(expected, rel=1e-12)
    assert res.report["buy_and_hold_return_pct"] == pytest.approx((expected / cash - 1) * 100)


def test_multi_asset_buy_and_hold_shares_one_portfolio(ctx):
    a = services.load_bars("AAPL", start="2010-01-01", end="2010-12-31")
    m = services.load_bars("MSFT", start="2010-02-01", end="2010-12-31")  # starts later: timestamps are aligned by union
    cash, c = 100_000.0, 0.001
    res = run_backtest({"AAPL": a, "MSFT": m}, "buy_and_hold", cash=cash, commission=c, risk=UNLIMITED)
    assert res.path == "event" and res.equity.index.equals(a.index.union(m.index))
    oa = a["open"].iloc[1]
    qa = (0.5 * cash) // (oa + oa * c)
    cash1 = cash - qa * oa - qa * oa * c
    om, day = m["open"].iloc[1], m.index[1]
    equity_at_open = cash1 + qa * a.loc[day, "open"]
    qm = min(0.5 * equity_at_open, cash1) // (om + om * c)
    cash2 = cash1 - qm * om - qm * om * c
    expected = cash2 + qa * a["close"].iloc[-1] + qm * m["close"].iloc[-1]
    assert res.report["final_equity"] == pytest.approx(expected, rel=1e-12)
    assert res.report["trades"] == 0  # both positions still open


def test_a_vetoing_risk_hook_stops_every_order_in_a_backtest():
    def veto(order, ctx):
        return RiskDecision(RiskAction.VETO, 0, "test veto")

    res = run_backtest(GOOG.iloc[:300], "sma_cross", symbol="GOOG", risk=veto, baseline=False)
    assert res.path == "event" and res.report["trades"] == 0 and res.report["final_equity"] == 10_000
    assert res.orders and all(o.status is OrderStatus.REJECTED and o.reason == "risk: test veto" for o in res.orders)


def test_engine_stepped_bar_by_bar_with_a_store_trades_like_the_backtest(sqlite_url):
    """Paper trading is Engine.step per new bar: same decisions, now persisted."""
    from core.store import Store

    data = GOOG.iloc[:400]
    ref = run_backtest(data, "sma_cross", symbol="GOOG", cash=10_000, commission=0.002, baseline=False, path="event", risk=UNLIMITED)
    clock = FixedClock(data.index[0].tz_localize(UTC).to_pydatetime())
    store = Store(sqlite_url, clock=clock)
    broker = PaperBroker(clock, cash=10_000, fill_model=FillModel.flat_commission(0.002))
    engine = Engine(make_strategy("sma_cross"), broker, OrderManager(broker, clock, store=store, risk_check=UNLIMITED), ["GOOG"])
    for ts, row in data.iterrows():
        clock.set(ts.tz_localize(UTC).to_pydatetime())
        engine.step([Bar("GOOG", clock.now(), row.Open, row.High, row.Low, row.Close, row.Volume)])
    assert [p.equity for p in broker.portfolio.equity_curve] == list(ref.equity)
    stored = repo.load_orders(store, "paper")
    assert [o.client_order_id for o in stored] == [o.client_order_id for o in ref.orders]
    assert sum(o.status is OrderStatus.FILLED for o in stored) == len(broker.fills())


def test_unknown_strategy_and_parameters_say_what_was_meant():
    with pytest.raises(StrategyError, match="did you mean 'sma_cross'"):
        make_strategy("sma_crss")
    with pytest.raises(StrategyError, match="did you mean 'slow'"):
        make_strategy("sma_cross", slwo=3)
    with pytest.raises(StrategyError, match="fast < slow"):
        make_strategy("sma_cross", fast=30, slow=20)
    assert make_strategy("sma_cross", fast="5").get_params()["fast"] == 5


def test_fill_at_close_mode_runs_on_the_event_path():
    res = run_backtest(GOOG.iloc[:500], "sma_cross", symbol="GOOG", fill_model=FillModel(market_fill="close"), baseline=False, risk=UNLIMITED)
    first = res.trades.iloc[0]
    # The entry fills at the close of the signal bar itself.
    assert first["entry_price"] == GOOG.loc[first["entry_ts"].tz_localize(None), "Close"]
    assert not math.isnan(res.report["sharpe"])


def test_entries_too_small_for_one_lot_are_reported_not_silently_dropped(ctx):
    bars = services.load_bars("BTC-USD")
    runs = [run_backtest(bars, "sma_cross", symbol="BTC-USD", cash=1_000, path=p, baseline=False, risk=UNLIMITED) for p in ("event", "fast")]
    for res in runs:
        assert res.report["trades"] == 0 and res.report["final_equity"] == 1_000
        assert "use a smaller lot size" in res.report["warnings"][0]
    assert runs[0].unsized == runs[1].unsized > 10
