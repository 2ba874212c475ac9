"""Signal processor: threshold, dedupe, conflicts, regime gate, priority by edge; deterministic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.domain import Regime, Side, Signal
from core.signals import SignalConfig, SignalProcessor
from core.sizing import KellySizer

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
SIZER = KellySizer(fraction=0.25, max_position_pct=0.05)


def sig(symbol: str, p_up: float, ts: datetime = T0, regime: Regime | None = None, model: str = "m1", **kw) -> Signal:
    return Signal(symbol, ts, p_up, regime=regime, model_id=model, **kw)


def reasons(result) -> dict[tuple[str, str | None], str]:
    return {(r.signal.symbol, r.signal.model_id): r.reason for r in result.rejected}


def test_threshold_direction_and_sizing():
    proc = SignalProcessor(SignalConfig(min_probability=0.55), SIZER)
    res = proc.process([sig("A", 0.60), sig("B", 0.53), sig("C", 0.30), sig("D", 0.5)], equity=100_000.0, prices={"A": 100.0, "C": 20.0})
    by = {i.symbol: i for i in res.intents}
    assert set(by) == {"A", "C"}
    assert by["A"].side is Side.BUY and by["A"].p_win == pytest.approx(0.60)
    # p = 0.6, b = 1: f* = 0.2, quarter Kelly 0.05 -> 5,000 -> 50 shares.
    assert by["A"].notional == pytest.approx(5_000.0) and by["A"].quantity == pytest.approx(50.0)
    assert by["C"].side is Side.SELL and by["C"].p_win == pytest.approx(0.70)
    r = reasons(res)
    assert r[("B", "m1")].startswith("below threshold") and r[("D", "m1")].startswith("no direction")


def test_confidence_threshold_and_shorts_switch():
    proc = SignalProcessor(SignalConfig(min_confidence=0.8, allow_short=False), SIZER)
    res = proc.process([sig("A", 0.7, confidence=0.9), sig("B", 0.7, confidence=0.6), sig("C", 0.2)], equity=1e5)
    assert [i.symbol for i in res.intents] == ["A"]
    r = reasons(res)
    assert "confidence" in r[("B", "m1")] and "allow_short" in r[("C", "m1")]


def test_dedupe_within_cooldown_and_again_after_it():
    proc = SignalProcessor(SignalConfig(cooldown=timedelta(minutes=30)), SIZER)
    assert len(proc.process([sig("A", 0.7)], equity=1e5).intents) == 1
    again = proc.process([sig("A", 0.72, ts=T0 + timedelta(minutes=10))], equity=1e5)
    assert again.intents == () and again.rejected[0].reason.startswith("duplicate")
    # The opposite direction is not a duplicate; the same after the cooldown is new again.
    assert len(proc.process([sig("A", 0.2, ts=T0 + timedelta(minutes=11))], equity=1e5).intents) == 1
    assert len(proc.process([sig("A", 0.7, ts=T0 + timedelta(minutes=31))], equity=1e5).intents) == 1
    # Two models agreeing in one batch: the stronger is kept.
    res = SignalProcessor(sizer=SIZER).process([sig("B", 0.6, model="m1"), sig("B", 0.7, model="m2")], equity=1e5)
    assert [i.model_id for i in res.intents] == ["m2"] and "duplicate in batch" in res.rejected[0].reason


def test_conflicting_signals_resolve_by_edge_or_cancel():
    proc = SignalProcessor(SignalConfig(conflict_margin=0.05), SIZER)
    res = proc.process([sig("A", 0.80, model="m1"), sig("A", 0.35, model="m2")], equity=1e5)
    # Long edge 0.8 - 0.2 = 0.6 vs short edge 0.65 - 0.35 = 0.3: the long wins.
    assert [(i.symbol, i.side) for i in res.intents] == [("A", Side.BUY)]
    assert "larger edge" in reasons(res)[("A", "m2")]
    tie = proc.process([sig("B", 0.70, model="m1"), sig("B", 0.31, model="m2")], equity=1e5)
    # Edges 0.4 and 0.38 differ by less than the margin: both dropped.
    assert tie.intents == () and all(r.reason.startswith("conflict") for r in tie.rejected)


def test_regime_gate():
    cfg = SignalConfig(allowed_directions={Regime.BEAR: frozenset({-1})})
    proc = SignalProcessor(cfg, SIZER)
    res = proc.process(
        [sig("A", 0.7, regime=Regime.CRISIS), sig("B", 0.7, regime=Regime.BEAR), sig("C", 0.3, regime=Regime.BEAR), sig("D", 0.6, regime=Regime.VOLATILE)],
        equity=100_000.0,
    )
    by = {i.symbol: i for i in res.intents}
    assert set(by) == {"C", "D"}
    assert by["D"].notional == pytest.approx(2_500.0)  # f* 0.2, quarter Kelly 0.05, volatile halves it: 2.5 % of 100k
    r = reasons(res)
    assert "crisis" in r[("A", "m1")] and "long entries not allowed in bear" in r[("B", "m1")]


def test_priority_by_expected_edge_when_capital_is_short():
    proc = SignalProcessor(sizer=SIZER)
    sigs = [sig("LOW", 0.58), sig("HIGH", 0.75), sig("MID", 0.65)]
    # Each wants 5 % of 100k (capped); 12,000 free funds HIGH, MID, and 2,000 of LOW.
    res = proc.process(sigs, equity=100_000.0, available_capital=12_000.0)
    assert [(i.symbol, round(i.notional)) for i in res.intents] == [("HIGH", 5000), ("MID", 5000), ("LOW", 2000)]
    assert [i.expected_edge for i in res.intents] == pytest.approx([0.5, 0.3, 0.16])
    res2 = SignalProcessor(SignalConfig(min_notional=2_500.0), SIZER).process(sigs, equity=100_000.0, available_capital=12_000.0)
    assert [i.symbol for i in res2.intents] == ["HIGH", "MID"]
    assert reasons(res2)[("LOW", "m1")].startswith("insufficient capital")


def test_deterministic_whatever_the_input_order():
    sigs = [sig("A", 0.7), sig("B", 0.3), sig("C", 0.66, regime=Regime.VOLATILE), sig("A", 0.2, model="m2"), sig("D", 0.56)]
    a = SignalProcessor(sizer=SIZER).process(sigs, equity=50_000.0, available_capital=4_000.0)
    b = SignalProcessor(sizer=SIZER).process(list(reversed(sigs)), equity=50_000.0, available_capital=4_000.0)
    assert a.intents == b.intents
    assert sorted((r.signal.symbol, r.reason) for r in a.rejected) == sorted((r.signal.symbol, r.reason) for r in b.rejected)


def test_reversal_within_the_cooldown_needs_more_edge_than_the_signal_it_reverses():
    proc = SignalProcessor(SignalConfig(cooldown=timedelta(minutes=30), reversal_margin=0.05), SIZER)
    assert len(proc.process([sig("A", 0.70)], equity=1e5).intents) == 1  # long, edge 2 * 0.7 - 1 = 0.4
    # a short at p_up 0.28: p_win 0.72, edge 0.44 <= 0.4 + 0.05 -> a whipsaw, suppressed as a conflict
    weak = proc.process([sig("A", 0.28, ts=T0 + timedelta(minutes=10))], equity=1e5)
    assert weak.intents == () and weak.rejected[0].kind == "conflict" and "needs an edge above 0.450, has 0.440" in weak.rejected[0].reason
    # p_up 0.2: edge 0.6 > 0.45 -> the reversal goes through
    assert len(proc.process([sig("A", 0.2, ts=T0 + timedelta(minutes=11))], equity=1e5).intents) == 1
    # after the cooldown of that short, a long needs no extra edge
    assert len(proc.process([sig("A", 0.7, ts=T0 + timedelta(minutes=42))], equity=1e5).intents) == 1


def test_every_rejection_names_its_kind():
    proc = SignalProcessor(SignalConfig(cooldown=timedelta(minutes=30), allow_short=False), SIZER)
    proc.process([sig("A", 0.7)], equity=1e5)
    res = proc.process([sig("A", 0.7, ts=T0 + timedelta(minutes=1)), sig("B", 0.52), sig("C", 0.2), sig("D", 0.7, regime=Regime.CRISIS)], equity=1e5)
    assert {r.signal.symbol: r.kind for r in res.rejected} == {"A": "duplicate", "B": "threshold", "C": "threshold", "D": "regime"}
