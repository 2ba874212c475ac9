"""The time column of a user's OHLCV file: parse it, or name the first row that cannot be a bar's time.

Strings in any ISO-like format are read (rows with different UTC offsets each converted
exactly, and this is noted); epoch numbers in seconds, milliseconds, microseconds or
nanoseconds by their size. Refused, each with the row and the fix:

- small numbers such as row counters (``0..399``) that would read as 1970;
- a mix of times with and without a UTC offset;
- text without a year (``03-01``, ``09:30``): a parser would invent one;
- ``NN/NN/YYYY`` dates whose day/month order no row settles, or settles both ways;
- times outside ``TIME_MIN .. TIME_MAX`` (a unit or parsing error, not a market).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.data.errors import DataValidationError

EPOCH_MIN = 1e8  # epoch seconds below this are before 1973-03: row numbers, not times
TIME_MIN, TIME_MAX = pd.Timestamp("1800-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC")
_SLASHED = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b"
FIX = "use a format like 2024-01-02 or 2024-01-02T09:30:00Z"


def parse_times(column: pd.Series, name: str, source: str) -> tuple[pd.DatetimeIndex, str | None]:
    """Return the times of ``column`` and a note when they needed converting; raise naming the first bad row."""
    note = None
    if pd.api.types.is_bool_dtype(column):
        raise DataValidationError(f"{source}: time column '{name}' holds true/false values, not times")
    if pd.api.types.is_numeric_dtype(column):
        index = _epochs(column, name, source)
    elif pd.api.types.is_datetime64_any_dtype(column):
        index = pd.DatetimeIndex(column)
    else:
        dayfirst = _day_first(column, name, source)
        try:
            index = pd.DatetimeIndex(pd.to_datetime(column, utc=False, format="mixed", dayfirst=dayfirst))
        except (ValueError, TypeError, OverflowError) as exc:
            if "Mixed timezones" not in str(exc) and "mixed time" not in str(exc).lower():
                bad_row = _first_unparsable(column)
                raise DataValidationError(f"{source}: cannot parse time column '{name}' at row {bad_row} ({column.iloc[bad_row]!r}); {FIX}") from None
            index, note = _mixed_offsets(column, name, source)
        else:
            _check_years(column, index.year, name, source)
    missing = np.asarray(index.isna())
    if missing.any():
        pos = int(np.argmax(missing))
        raise DataValidationError(f"{source}: row {pos}: time column '{name}' is empty; every row needs a time")
    return index, note


def check_time_range(index: pd.DatetimeIndex, source: str) -> None:
    """Raise naming the first row whose (UTC) time is outside ``TIME_MIN .. TIME_MAX``."""
    bad = np.asarray((index < TIME_MIN) | (index >= TIME_MAX))
    if bad.any():
        pos = int(np.argmax(bad))
        raise DataValidationError(
            f"{source}: row {pos}: the time {index[pos]} is outside {TIME_MIN.year}-01-01 .. {TIME_MAX.year - 1}-12-31, so no market traded "
            f"then: a wrong unit or a misread date; {FIX}"
        )


def _epochs(column: pd.Series, name: str, source: str) -> pd.DatetimeIndex:
    values = column.to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        pos = int(np.argmax(bad))
        raise DataValidationError(f"{source}: row {pos}: time column '{name}' is empty or not a number ({column.iloc[pos]!r})")
    low, high = float(values.min()), float(values.max())
    if low < 0 or high < EPOCH_MIN:
        looks = ("dates written as YYYYMMDD numbers: write them as 2024-01-02" if low >= 1e7 and high < 3e7
                 else "a row counter. Give real times (e.g. 2024-01-02 or 2024-01-02T09:30:00Z) or epoch seconds/milliseconds")
        raise DataValidationError(
            f"{source}: time column '{name}' holds small numbers ({low:.10g} .. {high:.10g}) that would read as seconds after "
            f"1970-01-01: they look like {looks}"
        )
    unit = "ns" if high > 1e17 else "us" if high > 1e14 else "ms" if high > 1e11 else "s"
    try:
        return pd.DatetimeIndex(pd.to_datetime(values, unit=unit, utc=True))
    except (ValueError, OverflowError):
        pos = int(np.argmax(values))
        raise DataValidationError(
            f"{source}: row {pos}: time column '{name}' holds {values[pos]:.6g}, too large for epoch {unit} (the largest unit read): "
            f"not a time; {FIX}"
        ) from None


def _day_first(column: pd.Series, name: str, source: str) -> bool:
    """Return True for ``DD/MM/YYYY`` dates, False for ``MM/DD/YYYY`` or other text; raise when no row (or both kinds) tells."""
    parts = column.astype(str).str.extract(_SLASHED)
    found = parts[0].notna().to_numpy()
    if not found.any():
        return False
    first, second = parts[0][found].astype(int).to_numpy(), parts[1][found].astype(int).to_numpy()
    rows = np.flatnonzero(found)
    day_first, month_first = first > 12, second > 12
    if day_first.any() and month_first.any():
        a, b = rows[int(np.argmax(day_first))], rows[int(np.argmax(month_first))]
        raise DataValidationError(f"{source}: time column '{name}': row {a} ({column.iloc[a]!r}) puts the day first but row {b} "
                                  f"({column.iloc[b]!r}) the month; {FIX}")
    if not (day_first.any() or month_first.any()):
        raise DataValidationError(f"{source}: time column '{name}': dates like {column.iloc[rows[0]]!r} (row {rows[0]}) may be day/month or "
                                  f"month/day and no row tells which; {FIX}")
    return bool(day_first.any())


def _check_years(column: pd.Series, years: np.ndarray, name: str, source: str) -> None:
    """Raise when a time's text does not hold its year in 4 digits: the parser filled one in (year 1, or this year) or guessed the century."""
    text = column.astype(str).to_numpy()
    missing = np.fromiter((f"{y:04d}" not in t for y, t in zip(years, text, strict=True)), bool, len(text))
    if missing.any():
        pos = int(np.argmax(missing))
        raise DataValidationError(
            f"{source}: row {pos}: time column '{name}' value {column.iloc[pos]!r} has no 4-digit year (a parser would invent one); {FIX}")


def _mixed_offsets(column: pd.Series, name: str, source: str) -> tuple[pd.DatetimeIndex, str]:
    """Convert times with different UTC offsets exactly; refuse a mix of zoned and unzoned times."""
    stamps = []
    for pos, value in enumerate(column):
        try:
            ts = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError):
            raise DataValidationError(f"{source}: cannot parse time column '{name}' at row {pos} ({value!r}); {FIX}") from None
        if ts is pd.NaT:
            raise DataValidationError(f"{source}: row {pos}: time column '{name}' is empty; every row needs a time")
        if stamps and (ts.tzinfo is None) != (stamps[0].tzinfo is None):
            state = "has no UTC offset but row 0 has one" if ts.tzinfo is None else "has a UTC offset but row 0 has none"
            raise DataValidationError(
                f"{source}: row {pos} ({value!r}): the time {state}; a mix of zoned and unzoned times is ambiguous. "
                "Give every time an offset (e.g. +00:00), or none (then UTC is assumed)"
            )
        stamps.append(ts)
    _check_years(column, np.array([ts.year for ts in stamps]), name, source)
    first = stamps[0].utcoffset()
    change = next((pos for pos, ts in enumerate(stamps) if ts.utcoffset() != first), 0)
    index = pd.DatetimeIndex(pd.to_datetime(column, utc=True, format="mixed"))
    return index, f"{source}: times carry different UTC offsets (first change at row {change}); each was converted to UTC exactly"


def _first_unparsable(column: pd.Series) -> int:
    for pos, value in enumerate(column):
        try:
            pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError):
            return pos
    return 0
