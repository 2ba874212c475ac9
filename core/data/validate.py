"""OHLCV validation: every frame is checked before anything uses it.

A valid frame has a ``DatetimeIndex`` named ``ts`` (tz-aware UTC, sorted,
unique) and float columns ``open, high, low, close, volume`` with prices > 0,
``high >= max(open, close)``, ``low <= min(open, close)``, ``volume >= 0``, no
NaN or infinity, prices within ``[PRICE_MIN, PRICE_MAX]`` and no bad tick (a bar,
or a run of up to ``MAX_TICK_RUN`` bars, ``SPIKE_RATIO`` times above or below both
neighbours). A violation raises
:class:`DataValidationError` naming the row and the rule; with ``repair=True``
offending rows are dropped (or the frame sorted) and every repair is listed in
the returned :class:`ValidationReport`. Never a silent accept.

Time columns: see :mod:`core.data.times` (what is read, what is refused and why).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.data.errors import DataValidationError
from core.data.times import check_time_range, parse_times

OHLCV = ["open", "high", "low", "close", "volume"]
TIME_COLUMNS = ("ts", "timestamp", "time", "date", "datetime", "open_time")
PRICE_MIN, PRICE_MAX = 1e-9, 1e12  # outside this no traded asset is quoted: a unit or parsing error
VOLUME_MAX = 1e18
SPIKE_RATIO = 50.0  # a bar this many times above (or below) both neighbours is a bad tick, not a move
MAX_TICK_RUN = 3  # up to this many bad bars in a row (a feed glitch) are found as well; a longer run is a level, not a tick
HOW_TO_REPAIR = "Fix the row, or pass --repair (repair=True) to drop such rows."


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
        index, note = parse_times(frame[time_col], time_col, source)
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
    check_time_range(index, source)
    frame.index = index.rename("ts")
    frame = frame[OHLCV]
    for col in OHLCV:
        kind = "true/false values" if pd.api.types.is_bool_dtype(frame[col]) else "dates" if pd.api.types.is_datetime64_any_dtype(frame[col]) else ""
        if kind:
            raise DataValidationError(f"{source}: column '{col}' holds {kind}, not numbers (a column in the wrong place?)")
        if not pd.api.types.is_numeric_dtype(frame[col]):
            coerced = pd.to_numeric(frame[col], errors="coerce")
            bad = (coerced.isna() & frame[col].notna()).to_numpy()
            if bad.any():
                pos = int(np.argmax(bad))
                raise DataValidationError(f"{source}: row {pos} ({frame.index[pos]}): column '{col}' value {frame[col].iloc[pos]!r} is not a number")
            frame[col] = coerced
    return frame.astype("float64"), notes


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

    A run of 2..``MAX_TICK_RUN`` such bars between two normal ones (a feed glitch that lasted
    more than one bar) is flagged whole. A real move does not reverse by that factor within
    a few bars; a level shift (a split in unadjusted data) differs from one side only, so it
    is not flagged.
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
        flagged = up | down
        for run in range(2, min(MAX_TICK_RUN, n - 2) + 1):  # bars i .. i+run-1, with bars i-1 and i+run around them
            low_top = np.lib.stride_tricks.sliding_window_view(top, run).min(axis=1)[1 : n - run]
            high_bottom = np.lib.stride_tricks.sliding_window_view(bottom, run).max(axis=1)[1 : n - run]
            before, after = close[: n - run - 1], close[run + 1 :]
            hit = ((low_top >= ratio * before) & (low_top >= ratio * after)) | ((high_bottom * ratio <= before) & (high_bottom * ratio <= after))
            for start in np.flatnonzero(hit) + 1:
                flagged[start : start + run] = True
    return flagged


def _tick_message(frame: pd.DataFrame, flagged: np.ndarray, source: str) -> str:
    close = frame["close"].to_numpy()
    pos = int(np.argmax(flagged))
    end = pos + int(np.argmin(flagged[pos:])) if not flagged[pos:].all() else len(flagged)
    row = frame.iloc[pos]
    near = [f"{close[j]:g}" for j in (pos - 1, end) if 0 <= j < len(close)]
    values = ", ".join(f"{k}={row[k]:g}" for k in ("open", "high", "low", "close"))
    run = f" (and the next {end - pos - 1} bar(s))" if end - pos > 1 else ""
    return (f"{source}: row {pos} ({frame.index[pos]}): {values}{run} against neighbouring closes {', '.join(near)}: a likely bad tick; "
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
            raise DataValidationError(_tick_message(frame, ticks, source))
        report.repairs.append(f"dropped {int(ticks.sum())} likely bad tick(s) ({SPIKE_RATIO:g}x above or below both neighbours; first: {frame.index[pos]})")
        frame = frame[~ticks]
    if frame.empty:
        raise DataValidationError(f"{source}: no valid rows left after repair")
    report.rows_out = len(frame)
    return frame, report
