"""OHLCV validation: every frame is checked before anything uses it.

A valid frame has a ``DatetimeIndex`` named ``ts`` (tz-aware UTC, sorted,
unique) and float columns ``open, high, low, close, volume`` with prices > 0,
``high >= max(open, close)``, ``low <= min(open, close)``, ``volume >= 0``, no
NaN or infinity, prices within ``[PRICE_MIN, PRICE_MAX]`` and no bad tick (a bar
``SPIKE_RATIO`` times above or below both neighbours). A violation raises
:class:`DataValidationError` naming the row and the rule; with ``repair=True``
offending rows are dropped (or the frame sorted) and every repair is listed in
the returned :class:`ValidationReport`. Never a silent accept.

Time columns: strings (any ISO-like format; rows with different UTC offsets are
each converted exactly, and this is noted), or epoch numbers in seconds,
milliseconds, microseconds or nanoseconds. Small numbers such as row counters
(``0..399``) would read as 1970 and are refused, as is a mix of times with and
without a UTC offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

OHLCV = ["open", "high", "low", "close", "volume"]
TIME_COLUMNS = ("ts", "timestamp", "time", "date", "datetime", "open_time")
PRICE_MIN, PRICE_MAX = 1e-9, 1e12  # outside this no traded asset is quoted: a unit or parsing error
VOLUME_MAX = 1e18
SPIKE_RATIO = 50.0  # a bar this many times above (or below) both neighbours is a bad tick, not a move
EPOCH_MIN = 1e8  # epoch seconds below this are before 1973-03: row numbers, not times
HOW_TO_REPAIR = "Fix the row, or pass --repair (repair=True) to drop such rows."


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
    seen: dict[str, str] = {}
    for original, name in zip(raw.columns, frame.columns, strict=True):
        if name in seen:
            raise DataValidationError(f"{source}: columns '{seen[name]}' and '{original}' both mean '{name}'; keep one of them")
        seen[name] = str(original)
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
        index, note = _parse_times(frame[time_col], time_col, source)
        if note:
            notes.append(note)
        frame = frame.drop(columns=[time_col])
        frame.index = pd.DatetimeIndex(index)
    index = frame.index
    if index.hasnans:
        pos = int(np.argmax(np.asarray(index.isna())))
        raise DataValidationError(f"{source}: row {pos}: the time is empty; every row needs a time")
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
            bad = (coerced.isna() & frame[col].notna()).to_numpy()
            if bad.any():
                pos = int(np.argmax(bad))
                raise DataValidationError(f"{source}: row {pos} ({frame.index[pos]}): column '{col}' value {frame[col].iloc[pos]!r} is not a number")
            frame[col] = coerced
    return frame.astype("float64"), notes


def _parse_times(column: pd.Series, name: str, source: str) -> tuple[pd.DatetimeIndex, str | None]:
    """Return the times of ``column`` and a note when they needed converting; raise naming the first bad row."""
    note = None
    if pd.api.types.is_bool_dtype(column):
        raise DataValidationError(f"{source}: time column '{name}' holds true/false values, not times")
    if pd.api.types.is_numeric_dtype(column):
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
        index = pd.DatetimeIndex(pd.to_datetime(values, unit=unit, utc=True))
    else:
        try:
            index = pd.DatetimeIndex(pd.to_datetime(column, utc=False, format="mixed"))
        except (ValueError, TypeError, OverflowError) as exc:
            if "Mixed timezones" not in str(exc) and "mixed time" not in str(exc).lower():
                bad_row = _first_unparsable(column)
                raise DataValidationError(
                    f"{source}: cannot parse time column '{name}' at row {bad_row} ({column.iloc[bad_row]!r}); use a format like 2024-01-02 or "
                    "2024-01-02T09:30:00Z"
                ) from None
            index, note = _mixed_offsets(column, name, source)
    missing = np.asarray(index.isna())
    if missing.any():
        pos = int(np.argmax(missing))
        raise DataValidationError(f"{source}: row {pos}: time column '{name}' is empty; every row needs a time")
    return index, note


def _mixed_offsets(column: pd.Series, name: str, source: str) -> tuple[pd.DatetimeIndex, str]:
    """Convert times with different UTC offsets exactly; refuse a mix of zoned and unzoned times."""
    stamps = []
    for pos, value in enumerate(column):
        try:
            ts = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError):
            raise DataValidationError(f"{source}: cannot parse time column '{name}' at row {pos} ({value!r}); use a format like 2024-01-02") from None
        if ts is pd.NaT:
            raise DataValidationError(f"{source}: row {pos}: time column '{name}' is empty; every row needs a time")
        if stamps and (ts.tzinfo is None) != (stamps[0].tzinfo is None):
            state = "has no UTC offset but row 0 has one" if ts.tzinfo is None else "has a UTC offset but row 0 has none"
            raise DataValidationError(
                f"{source}: row {pos} ({value!r}): the time {state}; a mix of zoned and unzoned times is ambiguous. "
                "Give every time an offset (e.g. +00:00), or none (then UTC is assumed)"
            )
        stamps.append(ts)
    first = stamps[0].utcoffset()
    change = next((pos for pos, ts in enumerate(stamps) if ts.utcoffset() != first), 0)
    index = pd.DatetimeIndex(pd.to_datetime(column, utc=True, format="mixed"))
    return index, f"{source}: times carry different UTC offsets (first change at row {change}); each was converted to UTC exactly"


def _first_unparsable(column: pd.Series) -> int:
    for pos, value in enumerate(column):
        try:
            pd.Timestamp(value)
        except (ValueError, TypeError):
            return pos
    return 0


def _rule_violations(frame: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    o, h, lo, c, v = (frame[k].to_numpy() for k in OHLCV)
    prices = np.vstack([o, h, lo, c])
    with np.errstate(invalid="ignore"):
        return [
            ("no NaN in open, high, low, close, volume", frame[OHLCV].isna().any(axis=1).to_numpy()),
            ("no infinite values", np.isinf(frame[OHLCV].to_numpy()).any(axis=1)),
            ("prices > 0", (np.minimum.reduce([o, h, lo, c]) <= 0)),
            (f"prices between {PRICE_MIN:g} and {PRICE_MAX:g}", ((prices > 0) & ((prices < PRICE_MIN) | (prices > PRICE_MAX))).any(axis=0)),
            (f"volume <= {VOLUME_MAX:g}", v > VOLUME_MAX),
            ("high >= max(open, close)", h < np.maximum(o, c)),
            ("low <= min(open, close)", lo > np.minimum(o, c)),
            ("volume >= 0", v < 0),
        ]


def bad_ticks(frame: pd.DataFrame, ratio: float = SPIKE_RATIO) -> np.ndarray:
    """Return a mask of bars ``ratio`` times above or below the closes of both neighbours (one neighbour at the ends).

    A real move does not reverse by that factor on the next bar; a level shift (a split
    in unadjusted data) differs from one neighbour only, so it is not flagged.
    """
    n = len(frame)
    if n < 2:
        return np.zeros(n, dtype=bool)
    top = frame[["open", "high", "low", "close"]].to_numpy().max(axis=1)
    bottom = frame[["open", "high", "low", "close"]].to_numpy().min(axis=1)
    close = frame["close"].to_numpy()
    prev_c = np.concatenate([[close[1]], close[:-1]])  # the first bar has only the next one
    next_c = np.concatenate([close[1:], [close[-2]]])
    with np.errstate(divide="ignore", invalid="ignore"):
        up = (top >= ratio * prev_c) & (top >= ratio * next_c)
        down = (bottom * ratio <= prev_c) & (bottom * ratio <= next_c)
    return up | down


def _tick_message(frame: pd.DataFrame, pos: int, source: str) -> str:
    close = frame["close"].to_numpy()
    row = frame.iloc[pos]
    near = [f"{close[j]:g}" for j in (pos - 1, pos + 1) if 0 <= j < len(close)]
    values = ", ".join(f"{k}={row[k]:g}" for k in ("open", "high", "low", "close"))
    return (f"{source}: row {pos} ({frame.index[pos]}): {values} against neighbouring closes {', '.join(near)}: a likely bad tick; "
            f"rule 'no bar {SPIKE_RATIO:g}x above or below both neighbours' broken. {HOW_TO_REPAIR}")


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
                "Sort the file by time, or pass --repair (repair=True)."
            )
        frame = frame.sort_index(kind="stable")
        report.repairs.append("sorted rows by time")

    dup = frame.index.duplicated(keep="last")
    if dup.any():
        pos = int(np.argmax(frame.index.duplicated(keep=False)))
        if not repair:
            raise DataValidationError(
                f"{source}: row {pos} ({frame.index[pos]}) has a duplicate timestamp; rule 'unique timestamps'. "
                "Remove duplicates, or pass --repair (repair=True; keeps the last)."
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
                raise DataValidationError(f"{source}: row {pos} ({frame.index[pos]}): rule '{rule}' broken ({values}). {HOW_TO_REPAIR}")
            report.repairs.append(f"dropped {int(mask.sum())} row(s) breaking '{rule}' (first: {frame.index[pos]})")
            bad_any |= mask
    if bad_any.any():
        frame = frame[~bad_any]
    ticks = bad_ticks(frame)
    if ticks.any():
        pos = int(np.argmax(ticks))
        if not repair:
            raise DataValidationError(_tick_message(frame, pos, source))
        report.repairs.append(f"dropped {int(ticks.sum())} likely bad tick(s) ({SPIKE_RATIO:g}x above or below both neighbours; first: {frame.index[pos]})")
        frame = frame[~ticks]
    if frame.empty:
        raise DataValidationError(f"{source}: no valid rows left after repair")
    report.rows_out = len(frame)
    return frame, report
