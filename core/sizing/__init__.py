"""Position sizing: fractional Kelly, capped by the position limit and shrunk by the regime."""

from core.sizing.kelly import (
    DEFAULT_REGIME_MULTIPLIERS,
    KellyExplanation,
    KellySizer,
    SizingDecision,
    binary_kelly,
    continuous_kelly,
    payoff_ratio_from_brackets,
    payoff_ratio_from_history,
)

__all__ = [
    "DEFAULT_REGIME_MULTIPLIERS",
    "KellyExplanation",
    "KellySizer",
    "SizingDecision",
    "binary_kelly",
    "continuous_kelly",
    "payoff_ratio_from_brackets",
    "payoff_ratio_from_history",
]
