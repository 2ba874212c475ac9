"""The error of market data that breaks a rule (shared by validation and time parsing)."""

from __future__ import annotations


class DataValidationError(ValueError):
    """Market data breaks a rule; the message names the row and the rule."""
