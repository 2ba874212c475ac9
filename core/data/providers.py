"""Market-data providers behind one interface.

Every provider returns validated OHLCV frames (see :mod:`core.data.validate`):
a UTC ``DatetimeIndex`` named ``ts`` and float columns ``open, high, low,
close, volume``. :class:`CachedProvider` stores fetched ranges in the database
so a second request for the same range does not refetch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

import pandas as pd

from core.data.validate import DataValidationError, validate_ohlcv

TIMEFRAMES = {"1s": "1s", "1m": "1min", "5m": "5min", "15m": "15min", "1h": "1h", "4h": "4h", "1d": "1D"}


class DataError(ValueError):
    """Data cannot be found or fetched; the message says what to do."""


@dataclass(frozen=True)
class SeriesInfo:
    """One available series: symbol, bar size, range and bar count."""

    symbol: str
    timeframe: str
    start: str
    end: str
    bars: int
    source: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


class DataProvider(Protocol):
    """Anything that serves OHLCV bars."""

    name: str

    def series(self) -> list[SeriesInfo]:
        """Return the series this provider knows without a network call (may be empty)."""
        ...

    def bars(self, symbol: str, timeframe: str = "1d", start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        """Return validated bars for ``symbol`` in [start, end]."""
        ...


def _clip(frame: pd.DataFrame, start: datetime | str | None, end: datetime | str | None) -> pd.DataFrame:
    if start is not None:
        frame = frame[frame.index >= _utc(start)]
    if end is not None:
        frame = frame[frame.index <= _utc(end)]
    return frame


def _utc(value: datetime | str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def check_timeframe(timeframe: str) -> str:
    """Return ``timeframe`` if known, else raise with the valid choices."""
    if timeframe not in TIMEFRAMES:
        raise DataError(f"unknown timeframe '{timeframe}': use one of {', '.join(TIMEFRAMES)}")
    return timeframe


class SampleProvider:
    """The bundled real data under ``data/sample/`` (``SYMBOL__TIMEFRAME.parquet``)."""

    name = "sample"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._frames: dict[tuple[str, str], pd.DataFrame] = {}

    def _files(self) -> dict[tuple[str, str], Path]:
        out = {}
        for path in sorted(self.directory.glob("*__*.parquet")):
            symbol, timeframe = path.stem.split("__", 1)
            out[(symbol.upper(), timeframe)] = path
        return out

    def _load(self, symbol: str, timeframe: str) -> pd.DataFrame:
        key = (symbol.upper(), timeframe)
        if key not in self._frames:
            files = self._files()
            if key not in files:
                known = sorted({f"{s} ({t})" for s, t in files})
                raise DataError(f"no bundled data for {symbol} {timeframe}; available: {', '.join(known)}. Use --data PATH for your own file.")
            frame, _ = validate_ohlcv(pd.read_parquet(files[key]), source=files[key].name)
            self._frames[key] = frame
        return self._frames[key]

    def series(self) -> list[SeriesInfo]:
        """Return every bundled series."""
        out = []
        for symbol, timeframe in self._files():
            frame = self._load(symbol, timeframe)
            out.append(SeriesInfo(symbol, timeframe, frame.index[0].isoformat(), frame.index[-1].isoformat(), len(frame), self.name))
        return out

    def bars(self, symbol: str, timeframe: str = "1d", start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        """Return bundled bars for ``symbol``."""
        return _clip(self._load(symbol, check_timeframe(timeframe)), start, end).copy()


PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt", ".gz")


def short_path(path: str | Path, keep: int = 60) -> str:
    """Return ``path`` for a message: whole when short, else its start and end around an ellipsis."""
    text = str(path)
    return text if len(text) <= 2 * keep else f"{text[:keep]}...{text[-keep:]}"


def _head(source: str | Path | IO[bytes], size: int = 4) -> bytes:
    """Return the first ``size`` bytes of a file or stream (the stream's position is kept)."""
    try:
        if isinstance(source, str | Path):
            with open(source, "rb") as fh:
                return fh.read(size)
        pos = source.tell()
        head = source.read(size)
        source.seek(pos)
        return head
    except (OSError, AttributeError, ValueError):
        return b""


def _first_bad_byte(source: str | Path | IO[bytes]) -> str:
    """Return `` (byte 0xe9 on line 2)`` for the first byte of ``source`` that is not UTF-8 ('' when it cannot be read again)."""
    head = _head(source, 1 << 30)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = head.count(b"\n", 0, exc.start) + 1
        return f" (byte 0x{head[exc.start]:02x} on line {line})"
    return ""


def read_table(source: str | Path | IO[bytes], name: str) -> pd.DataFrame:
    """Return the raw table of a CSV or Parquet file (by ``name``'s suffix), the time index as a column.

    Raises
    ------
    DataError
        One line naming the file and what is wrong with it (unsupported type, empty, unreadable).
    """
    suffix = Path(name).suffix.lower()
    name = short_path(name)
    if suffix not in PARQUET_SUFFIXES + CSV_SUFFIXES:
        raise DataError(f"{name}: unsupported file type '{suffix or '(none)'}'; use .csv or .parquet")
    kind = "Parquet" if suffix in PARQUET_SUFFIXES else "CSV"
    head = _head(source, 8)
    if kind == "Parquet" and head and not head.startswith(b"PAR1"):
        looks = " (it starts like text: if it is CSV, rename it to .csv)" if head.decode("utf-8", "replace").isprintable() else ""
        raise DataError(f"{name}: not a Parquet file{looks}")
    try:
        raw = pd.read_parquet(source) if kind == "Parquet" else pd.read_csv(source)
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: the file is empty; it needs a header line and rows of OHLCV bars") from None
    except UnicodeDecodeError:
        if head.startswith(b"PAR1"):
            raise DataError(f"{name}: this is a Parquet file named .csv; rename it to .parquet") from None
        raise DataError(f"{name}: not UTF-8 text{_first_bad_byte(source)}; save it as UTF-8 CSV") from None
    except Exception as exc:  # parser, arrow and OS errors all mean "cannot read this file"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise DataError(f"{name}: cannot read it as {kind} ({type(exc).__name__}: {first}); check the file type and contents") from None
    if kind == "CSV" and raw.shape[1] == 1 and (sep := next((c for c in ";\t|" if c in str(raw.columns[0])), None)):
        raise DataError(f"{name}: the columns are separated by {sep!r}, not commas; save it as CSV with ',' between columns and '.' in numbers")
    if isinstance(raw.index, pd.DatetimeIndex) or raw.index.name:
        raw = raw.reset_index()
    return raw


class FileProvider:
    """A user's CSV or Parquet file with open, high, low, close, volume and a time column."""

    name = "file"

    def __init__(self, path: str | Path, repair: bool = False) -> None:
        self.path = Path(path)
        self.repair = repair
        self.report = None
        self._frame: pd.DataFrame | None = None

    @property
    def symbol(self) -> str:
        """Return the symbol implied by the file name."""
        return self.path.stem.split("__", 1)[0].upper()

    def frame(self) -> pd.DataFrame:
        """Read and validate the file once."""
        if self._frame is None:
            shown = short_path(self.path)
            try:
                exists, is_dir = self.path.exists(), self.path.is_dir()
            except OSError as exc:  # e.g. a name longer than the file system allows
                raise DataError(f"data file {shown}: cannot open it ({exc.strerror or type(exc).__name__}); check the path") from None
            if not exists:
                raise DataError(f"data file {shown} does not exist")
            if is_dir:
                raise DataError(f"data file {shown} is a directory; give a .csv or .parquet file")
            raw = read_table(self.path, self.path.name)
            self._frame, self.report = validate_ohlcv(raw, repair=self.repair, source=self.path.name)
        return self._frame

    def series(self) -> list[SeriesInfo]:
        """Return the file's one series."""
        f = self.frame()
        tf = _infer_timeframe(f.index)
        return [SeriesInfo(self.symbol, tf, f.index[0].isoformat(), f.index[-1].isoformat(), len(f), self.name)]

    def bars(self, symbol: str | None = None, timeframe: str | None = None, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        """Return the file's bars (``symbol`` and ``timeframe`` are ignored: a file holds one series)."""
        return _clip(self.frame(), start, end).copy()


def _infer_timeframe(index: pd.DatetimeIndex) -> str:
    if len(index) < 2:
        return "1d"
    step = pd.Series(index).diff().median()
    for name, freq in TIMEFRAMES.items():
        if step <= pd.Timedelta(freq):
            return name
    return "1d"


class CachedProvider:
    """Wrap a (remote) provider with the database bar cache."""

    def __init__(self, inner: DataProvider, store: Any) -> None:
        self.inner = inner
        self.store = store
        self.name = inner.name

    def series(self) -> list[SeriesInfo]:
        """Return the inner provider's series."""
        return self.inner.series()

    def bars(self, symbol: str, timeframe: str = "1d", start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        """Return bars from the cache when [start, end] was fetched before, else fetch and cache."""
        if start is None or end is None:
            raise DataError("cached requests need both start and end dates")
        s, e = _utc(start).to_pydatetime(), _utc(end).to_pydatetime()
        if self.store.cached_range(symbol, timeframe, self.name, s, e):
            return self.store.load_bars(symbol, timeframe, self.name, s, e)
        frame = self.inner.bars(symbol, timeframe, s, e)
        self.store.save_bars(frame, symbol, timeframe, self.name, s, e)
        return frame


__all__ = [
    "TIMEFRAMES",
    "CachedProvider",
    "DataError",
    "DataProvider",
    "DataValidationError",
    "FileProvider",
    "SampleProvider",
    "SeriesInfo",
    "check_timeframe",
    "read_table",
    "short_path",
]
