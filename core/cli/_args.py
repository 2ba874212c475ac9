"""Argument types for the CLI: a bad value is one ``error:`` line from argparse, exit code 2.

Each factory returns a function for ``add_argument(type=...)``; argparse turns the
``argparse.ArgumentTypeError`` it raises into ``error: argument --cash: ...``.
The bounds mirror the configuration's (``trading.commission`` is below 0.1).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable

import pandas as pd

MAX_COMMISSION = 0.1  # as config.TradingSettings.commission: 10 % of notional per fill is a typo, not a fee
MAX_RISK_FREE = 1.0  # an annual rate as a fraction: 0.02 is 2 %


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive(what: str, example: str, high: float | None = None) -> Callable[[str], float]:
    """Return a type accepting a finite number > 0 (and at most ``high``)."""

    def parse(text: str) -> float:
        value = _number(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{what} must be a positive number such as {example}, not {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{what} must be at most {high:g} (e.g. {example}), not {text}: a typo or a unit error")
        return value

    return parse


def jobs(text: str) -> int:
    """Return a worker count: a whole number >= 1, or -1 for every core (joblib's convention)."""
    value = count("--jobs", -1)(text)
    if value == 0:
        raise argparse.ArgumentTypeError("--jobs must be at least 1 worker, or -1 for all cores, not 0")
    return value


def timeframe(text: str) -> str:
    """Return ``text`` if it is a known bar size (1m, 1h, 1d ...)."""
    from core.data.providers import TIMEFRAMES

    if text not in TIMEFRAMES:
        raise argparse.ArgumentTypeError(f"unknown timeframe {text!r}: use one of {', '.join(TIMEFRAMES)}")
    return text


def commission(text: str) -> float:
    """Return a commission rate in [0, 0.1): a fraction of notional per fill."""
    value = _number(text)
    if not 0 <= value < MAX_COMMISSION:
        hint = f" (did you mean {value / 100:g}, i.e. {value:g} %?)" if 0 < value < 100 * MAX_COMMISSION else ""
        raise argparse.ArgumentTypeError(f"commission is a fraction of notional per fill in [0, {MAX_COMMISSION:g}), e.g. 0.002 for 0.2 %, not {text}{hint}")
    return value


def risk_free(text: str) -> float:
    """Return an annual risk-free rate as a fraction in (-1, 1)."""
    value = _number(text)
    if not -MAX_RISK_FREE < value < MAX_RISK_FREE:
        hint = f" (did you mean {value / 100:g}, i.e. {value:g} %?)" if 0 < value < 100 else ""
        raise argparse.ArgumentTypeError(f"the risk-free rate is an annual fraction in (-1, 1), e.g. 0.02 for 2 %, not {text}{hint}")
    return value


def fraction(what: str, low: float, high: float) -> Callable[[str], float]:
    """Return a type accepting a finite number in ``[low, high]``."""

    def parse(text: str) -> float:
        value = _number(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be a fraction between {low:g} and {high:g} (0.02 = 2 %), not {text}")
        return value

    return parse


def count(what: str, low: int = 1, high: int | None = None) -> Callable[[str], int]:
    """Return a type accepting a whole number in ``[low, high]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number, not {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{what} must be {bound}, not {value}")
        return value

    return parse


def date(text: str) -> str:
    """Return ``text`` if it is a date or time pandas can read (e.g. 2024-01-02)."""
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2024-01-02") from None
    if ts is pd.NaT:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2024-01-02")
    return text


def check_range(start: str | None, end: str | None) -> None:
    """Raise ``ValueError`` when ``start`` is after ``end``."""
    if start and end:
        a, b = pd.Timestamp(start), pd.Timestamp(end)
        a = a.tz_localize("UTC") if a.tzinfo is None else a
        b = b.tz_localize("UTC") if b.tzinfo is None else b
        if a > b:
            raise ValueError(f"--start {start} is after --end {end}: swap them")


def print_notes(notes: list[str]) -> None:
    """Print what validation repaired or converted, one ``note:`` line each, on stderr."""
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
