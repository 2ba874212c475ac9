"""Kelly sizing: textbook cases computed by hand."""

from __future__ import annotations

import pytest

from core.domain import Regime
from core.sizing import (
    KellySizer,
    binary_kelly,
    continuous_kelly,
    payoff_ratio_from_brackets,
    payoff_ratio_from_history,
)


def test_binary_kelly_textbook_cases():
    assert binary_kelly(0.6, 1.0) == pytest.approx(0.2)  # even-money coin with a 60 % edge
    assert binary_kelly(0.5, 2.0) == pytest.approx(0.25)  # 0.5 - 0.5 / 2
    assert binary_kelly(0.4, 2.0) == pytest.approx(0.1)  # 0.4 - 0.6 / 2
    assert binary_kelly(0.5, 1.0) == pytest.approx(0.0)  # no edge
    assert binary_kelly(0.3, 1.0) == pytest.approx(-0.4)  # negative: do not bet


def test_continuous_kelly_is_mean_over_variance():
    assert continuous_kelly(0.0004, 0.02) == pytest.approx(1.0)  # 0.0004 / 0.0004
    assert continuous_kelly(0.08, 0.2) == pytest.approx(2.0)  # annual 8 % excess at 20 % vol


def test_payoff_ratios():
    assert payoff_ratio_from_brackets(100.0, 106.0, 98.0) == pytest.approx(3.0)
    assert payoff_ratio_from_brackets(100.0, 94.0, 102.0) == pytest.approx(3.0)  # a short's bracket
    assert payoff_ratio_from_history([30.0, -10.0, 10.0, -30.0]) == pytest.approx(20.0 / 20.0)
    with pytest.raises(ValueError, match="stop distance"):
        payoff_ratio_from_brackets(100.0, 105.0, 100.0)
    with pytest.raises(ValueError, match="probability"):
        binary_kelly(1.2, 1.0)


def test_fractional_kelly_under_the_cap():
    # p = 0.55, b = 1: f* = 0.1; quarter Kelly 0.025 < 5 % cap.
    d = KellySizer(fraction=0.25, max_position_pct=0.05).size_binary(0.55, 1.0, equity=100_000.0, price=50.0)
    assert d.explanation.f_star == pytest.approx(0.1)
    assert d.fraction == pytest.approx(0.025)
    assert d.notional == pytest.approx(2_500.0)
    assert d.quantity == pytest.approx(50.0)
    assert d.explanation.caps == ()


def test_cap_floor_and_regime_multipliers():
    sizer = KellySizer(fraction=0.5, max_position_pct=0.05)
    # p = 0.7, b = 2: f* = 0.55, half Kelly 0.275 -> capped at 5 %.
    capped = sizer.size_binary(0.7, 2.0, equity=10_000.0)
    assert capped.fraction == pytest.approx(0.05) and capped.explanation.caps == ("position_limit",)
    # Volatile halves before the cap: 0.275 * 0.5 = 0.1375 -> still capped; a small edge shows the halving.
    small = sizer.size_binary(0.52, 1.0, equity=10_000.0, regime=Regime.VOLATILE)  # f* 0.04 -> 0.02 -> 0.01
    assert small.fraction == pytest.approx(0.01) and small.explanation.caps == ("regime:volatile",)
    crisis = sizer.size_binary(0.9, 3.0, equity=10_000.0, regime="crisis")
    assert crisis.fraction == 0.0 and crisis.explanation.regime_multiplier == 0.0
    no_edge = sizer.size_binary(0.4, 1.0, equity=10_000.0)
    assert no_edge.fraction == 0.0 and no_edge.explanation.caps == ("floor_zero",)
    custom = KellySizer(fraction=1.0, max_position_pct=1.0, regime_multipliers={Regime.BEAR: 0.25})
    assert custom.size_binary(0.6, 1.0, equity=1.0, regime=Regime.BEAR).fraction == pytest.approx(0.05)


def test_continuous_sizing_and_lots():
    d = KellySizer(fraction=0.25, max_position_pct=1.0).size_continuous(0.0004, 0.02, equity=100_000.0, price=33.0, lot_size=10)
    assert d.fraction == pytest.approx(0.25)  # f* = 1, quarter Kelly
    assert d.quantity == 750.0  # 25,000 / 33 = 757.6 -> 750 in lots of 10


def test_explanation_is_kept_for_the_ui(ctx):
    from core import services

    sizer = services.kelly_sizer(ctx)
    assert sizer.fraction == ctx.settings.risk.kelly_fraction == 0.25
    d = sizer.size_binary(0.6, 1.5, equity=1000.0, regime=Regime.VOLATILE)
    e = d.explanation.to_dict()
    assert e["p"] == 0.6 and e["b"] == 1.5 and e["f_star"] == pytest.approx(0.6 - 0.4 / 1.5)
    assert e["fraction"] == 0.25 and e["regime"] == "volatile" and e["regime_multiplier"] == 0.5
    assert e["final_fraction"] == pytest.approx(min(0.25 * (0.6 - 0.4 / 1.5) * 0.5, 0.05))
    assert "f*=" in d.explanation.text()
