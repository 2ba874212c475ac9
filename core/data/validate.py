"""OHLCV validation: every frame is checked before anything uses it.

A valid frame has a ``DatetimeIndex`` named ``ts`` (tz-aware UTC, sorted,
unique) and float columns ``open, high, low, close, volume`` with prices > 0,
``high >= max(open, close)``, ``low <= min(open, close)``, ``volume >= 0`` and
no NaN. A violation raises :class:`DataValidationError` naming the row and the
rule; with ``repair=True`` offending rows are dropped (or the frame sorted) and
every repair is listed in the returned :class:`ValidationReport`. Never a silent
accept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

OHLCV = ["open", "high", "low", "close", "volume"]
TIME_COLUMNS = ("ts", "timestamp", "time", "date", "datetime", "open_time")


class DataValidationError(ValueError):
    """Market data breaks a rule; the message names the row and the rule."""


@dataclass
class ValidationReport:
    """What validation found and, with ``repair=True``, what it changed."""

    rows_in: int = 0
    rows_out: int = 0
    repairs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        """Return how many rows repair removed."""
        return self.rows_in - self.rows_out


def normalize_frame(raw: pd.DataFrame, source: str = "data") -> tuple[pd.DataFrame, list[str]]:
    """Return ``raw`` with lowercase OHLCV columns and a UTC ``ts`` index.

    Column names are matched case-insensitively; the time may be the index or
    one of ``ts, timestamp, time, date, datetime, open_time``. Naive
    timestamps are taken as UTC and this is noted.
    """
    notes: list[str] = []
    frame = raw.copy()
    frame.columns = [str(c).strip().lower().replace(" ", "_") for c in frame.columns]
    if "adj_close" in frame.columns and "close" not in frame.columns:
        frame = frame.rename(columns={"adj_close": "close"})
    missing = [c for c in OHLCV if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{source}: missing column(s) {', '.join(missing)}; need open, high, low, close, volume "
            f"(any letter case) and a time column named one of {', '.join(TIME_COLUMNS)}"
        )
    if not isinstance(frame.index, pd.DatetimeIndex):
        time_col = next((c for c in TIME_COLUMNS if c in frame.columns), None)
        if time_col is None:
            raise DataValidationError(f"{source}: no time column; name one of {', '.join(TIME_COLUMNS)} or use a DatetimeIndex")
        column = frame[time_col]
        try:
            if pd.api.types.is_numeric_dtype(column):
                # Epoch numbers: milliseconds when large (exchange style), else seconds.
                unit = "ms" if float(column.abs().max()) > 1e11 else "s"
                index = pd.to_datetime(column, unit=unit, utc=True)
            else:
                index = pd.to_datetime(column, utc=False, format="mixed")
        except (ValueError, TypeError) as exc:
            bad = _first_unparsable(column)
            raise DataValidationError(f"{source}: cannot parse time column '{time_col}' at row {bad}: {exc}") from None
        frame = frame.drop(columns=[time_col])
        frame.index = pd.DatetimeIndex(index)
    index = frame.index
    if index.tz is None:
        index = index.tz_localize("UTC")
        notes.append(f"{source}: timestamps had no time zone and were taken as UTC")
    else:
        index = index.tz_convert("UTC")
    frame.index = index.rename("ts")
    frame = frame[OHLCV]
    for col in OHLCV:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            coerced = pd.to_numeric(frame[col], errors="coerce")
            bad = frame[col][coerced.isna() & frame[col].notna()]
            if len(bad):
                pos = frame.index.get_loc(bad.index[0])
                raise DataValidationError(f"{source}: row {pos} ({bad.index[0]}): column '{col}' value {bad.iloc[0]!r} is not a number")
            frame[col] = coerced
    return frame.astype("float64"), notes


def _first_unparsable(column: pd.Series) -> int:
    for pos, value in enumerate(column):
        try:
            pd.Timestamp(value)
        except (ValueError, TypeError):
            return pos
    return 0


def _rule_violations(frame: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    o, h, lo, c, v = (frame[k].to_numpy() for k in OHLCV)
    with np.errstate(invalid="ignore"):
        return [
            ("no NaN in open, high, low, close, volume", frame[OHLCV].isna().any(axis=1).to_numpy()),
            ("prices > 0", (np.minimum.reduce([o, h, lo, c]) <= 0)),
            ("high >= max(open, close)", h < np.maximum(o, c)),
            ("low <= min(open, close)", lo > np.minimum(o, c)),
            ("volume >= 0", v < 0),
        ]


def validate_ohlcv(raw: pd.DataFrame, *, repair: bool = False, source: str = "data") -> tuple[pd.DataFrame, ValidationReport]:
    """Validate (and optionally repair) an OHLCV frame.

    Parameters
    ----------
    raw
        Bars with OHLCV columns (any case) and a time index or column.
    repair
        Drop offending rows, duplicates (keeping the last) and sort, reporting each repair,
        instead of raising.
    source
        A name for messages (file name or symbol).

    Returns
    -------
    frame, report
        The clean frame and what was found.

    Raises
    ------
    DataValidationError
        On the first violated rule when ``repair`` is False.
    """
    frame, notes = normalize_frame(raw, source)
    report = ValidationReport(rows_in=len(frame), notes=notes)
    if frame.empty:
        raise DataValidationError(f"{source}: no rows")

    if not frame.index.is_monotonic_increasing:
        pos = int(np.argmax(np.diff(frame.index.asi8) < 0)) + 1
        if not repair:
            raise DataValidationError(
                f"{source}: row {pos} ({frame.index[pos]}) is earlier than the row before it; rule 'sorted by time'. "
                "Sort the file by time, or load with repair=True."
            )
        frame = frame.sort_index(kind="stable")
        report.repairs.append("sorted rows by time")

    dup = frame.index.duplicated(keep="last")
    if dup.any():
        pos = int(np.argmax(frame.index.duplicated(keep=False)))
        if not repair:
            raise DataValidationError(
                f"{source}: row {pos} ({frame.index[pos]}) has a duplicate timestamp; rule 'unique timestamps'. "
                "Remove duplicates, or load with repair=True (keeps the last)."
            )
        frame = frame[~dup]
        report.repairs.append(f"dropped {int(dup.sum())} duplicate timestamp row(s), kept the last of each")

    bad_any = np.zeros(len(frame), dtype=bool)
    for rule, mask in _rule_violations(frame):
        if mask.any():
            pos = int(np.argmax(mask))
            row = frame.iloc[pos]
            if not repair:
                values = ", ".join(f"{k}={row[k]:g}" for k in OHLCV)
                raise DataValidationError(
                    f"{source}: row {pos} ({frame.index[pos]}): rule '{rule}' broken ({values}). "
                    "Fix the row, or load with repair=True to drop such rows."
                )
            report.repairs.append(f"dropped {int(mask.sum())} row(s) breaking '{rule}' (first: {frame.index[pos]})")
            bad_any |= mask
    if bad_any.any():
        frame = frame[~bad_any]
    if frame.empty:
        raise DataValidationError(f"{source}: no valid rows left after repair")
    report.rows_out = len(frame)
    return frame, report
