"""Portfolio ledger: average cost, realised/unrealised P&L, fees, shorts, trades with MAE/MFE, persistence."""

from datetime import UTC, datetime, timedelta

import pytest

from core.domain import Bar, Fill, Side
from core.portfolio import Portfolio
from core.portfolio import repo as prepo
from core.store import Store

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def fill(side, qty, price, fee=0.0, day=0, symbol="X", n=[0]):  # noqa: B006 - a counter for unique IDs
    n[0] += 1
    return Fill(f"f{n[0]}", f"o{n[0]}", symbol, side, qty, price, fee, T0 + timedelta(days=day))


def test_average_cost_realised_and_unrealised_pnl_with_fees():
    pf = Portfolio(cash=100_000)
    pf.apply_fill(fill(Side.BUY, 10, 100, fee=1))
    pf.apply_fill(fill(Side.BUY, 10, 110, fee=1, day=1))
    pos = pf.positions["X"]
    assert pos.quantity == 20 and pos.avg_price == 105 and pf.cash == 100_000 - 1_001 - 1_101
    pf.apply_fill(fill(Side.SELL, 5, 120, fee=1, day=2))
    assert pf.positions["X"].avg_price == 105 and pf.realized_pnl() == 75  # (120 - 105) * 5
    pf.mark("X", 130)
    assert pf.unrealized_pnl() == 375  # (130 - 105) * 15
    assert pf.equity() == pytest.approx(100_000 + 75 + 375 - 3)
    closed = pf.apply_fill(fill(Side.SELL, 15, 100, fee=1, day=3))
    assert "X" not in pf.positions and pf.realized_pnl() == 0  # 75 - 75
    assert closed.quantity == 20 and closed.entry_price == 105 and closed.exit_price == 105  # (5*120 + 15*100) / 20
    assert closed.pnl == -4 and closed.fees == 4 and closed.duration == timedelta(days=3)
    assert pf.fees_paid == 4 and pf.equity() == pf.cash == 100_000 - 4


def test_short_then_reversal_closes_one_trade_and_opens_the_next():
    pf = Portfolio(cash=1_000)
    pf.apply_fill(fill(Side.SELL, 10, 50))
    assert pf.cash == 1_500
    pf.mark("X", 55)
    assert pf.equity() == 950 and pf.unrealized_pnl() == -50
    closed = pf.apply_fill(fill(Side.BUY, 20, 45, fee=2, day=1))
    # Covering 10 at 45 earns (50 - 45) * 10 = 50; half the fee belongs to each trade.
    assert closed.quantity == -10 and closed.entry_price == 50 and closed.exit_price == 45
    assert closed.pnl == pytest.approx(49) and closed.fees == pytest.approx(1)
    pos = pf.positions["X"]
    assert pos.quantity == 10 and pos.avg_price == 45
    assert pf.cash == 1_500 - 900 - 2


def test_mae_and_mfe_follow_the_bar_range_while_open():
    pf = Portfolio(cash=10_000)
    pf.apply_fill(fill(Side.BUY, 10, 100))
    pf.mark_bar(Bar("X", T0, 100, 105, 97, 101, 0))  # -30 at the low, +50 at the high
    pf.mark_bar(Bar("X", T0 + timedelta(days=1), 101, 108, 99, 104, 0))  # +80 at the high
    closed = pf.apply_fill(fill(Side.SELL, 10, 102, day=2))
    assert (closed.pnl, closed.mae, closed.mfe) == (20, -30, 80)
    assert closed.return_pct == pytest.approx(2.0)


def test_exposure_and_equity_curve():
    pf = Portfolio(cash=10_000)
    pf.apply_fill(fill(Side.BUY, 10, 100))
    pf.apply_fill(fill(Side.SELL, 5, 20, symbol="Y"))
    assert pf.gross_exposure() == 1_100 and pf.net_exposure() == 900
    point = pf.snapshot(T0)
    assert point.equity == 10_000 and point.cash == 10_000 - 1_000 + 100
    pf.mark("X", 110)
    pf.snapshot(T0)  # same time: replaced, not appended
    assert len(pf.equity_curve) == 1 and pf.equity_curve[0].equity == 10_100


def test_ledger_round_trips_through_the_store(db_url):
    store = Store(db_url)
    pf = Portfolio(cash=10_000, account="acc")
    rec = prepo.PortfolioRecorder(store, pf)
    fills = [fill(Side.BUY, 10, 100, fee=1), fill(Side.SELL, 10, 110, fee=1, day=1), fill(Side.BUY, 3, 105, day=2)]
    for f in fills:
        pf.apply_fill(f)
        pf.mark("X", f.price)
        pf.snapshot(f.ts)
    rec.flush(fills, T0 + timedelta(days=2))
    rec.flush(fills, T0 + timedelta(days=2))  # nothing new: nothing written twice
    assert [f.fill_id for f in prepo.load_fills(store, "acc")] == [f.fill_id for f in fills]
    trades = prepo.load_trades(store, "acc")
    assert len(trades) == 1 and trades[0].pnl == pytest.approx(98) and trades[0].quantity == 10
    assert [p.equity for p in prepo.load_equity(store, "acc")] == [p.equity for p in pf.equity_curve]
    back = prepo.load_state(store, "acc")
    assert back.cash == pf.cash and back.fees_paid == 2 and back.positions["X"].quantity == 3
    assert back.equity() == pytest.approx(pf.equity())


def test_cached_equity_follows_every_kind_of_write():
    """Equity and gross exposure are kept between writes; every write path must show up at once."""
    import pickle
    from datetime import UTC, datetime

    from core.domain import Fill, Position, Side
    from core.portfolio.portfolio import Portfolio

    def fresh(pf: Portfolio) -> tuple[float, float]:  # the textbook sums, no cache
        marks = [(p.quantity, pf._last.get(p.symbol, p.avg_price)) for p in pf.positions.values()]
        return pf.cash + sum(q * px for q, px in marks), sum(abs(q * px) for q, px in marks)

    ts = datetime(2024, 1, 2, tzinfo=UTC)
    pf = Portfolio(cash=10_000.0)
    steps = [
        lambda: pf.apply_fill(Fill("f1", "o1", "AAPL", Side.BUY, 10, 100.0, 1.0, ts)),
        lambda: pf.mark("AAPL", 105.0),
        lambda: pf.apply_fill(Fill("f2", "o2", "MSFT", Side.SELL, 5, 50.0, 0.5, ts)),
        lambda: pf.mark("MSFT", 40.0),
        lambda: setattr(pf, "cash", 123.0),  # e.g. a venue reconcile
        lambda: pf.positions.__setitem__("IBM", Position("IBM", 3.0, 20.0)),  # e.g. loaded from the store
        lambda: pf._last.update({"IBM": 25.0}),
        lambda: pf.positions.pop("MSFT"),
        lambda: pf.apply_fill(Fill("f3", "o3", "AAPL", Side.SELL, 10, 110.0, 1.0, ts)),
        lambda: setattr(pf, "positions", {"X": Position("X", 1.0, 7.0)}),  # replaced wholesale
        lambda: pf.positions.__setitem__("Y", Position("Y", 2.0, 3.0)),
    ]
    for step in steps:
        step()
        assert (pf.equity(), pf.gross_exposure()) == fresh(pf)
        assert (pf.equity(), pf.gross_exposure()) == fresh(pf)  # the cached answer too
    copy = pickle.loads(pickle.dumps(Portfolio(cash=1.0, positions={"A": Position("A", 2.0, 3.0)})))
    copy.positions["A"] = Position("A", 4.0, 3.0)
    assert copy.equity() == 13.0
