"""Data services: list series, load bars (bundled symbol or a user's file)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from core.data.providers import DataError, FileProvider, SeriesInfo
from core.services.context import Context, get_context


def list_series(ctx: Context | None = None) -> list[SeriesInfo]:
    """Return every bundled series with its range and bar count."""
    ctx = ctx or get_context()
    return ctx.sample.series()


def list_symbols(timeframe: str = "1d", ctx: Context | None = None) -> list[str]:
    """Return the bundled symbols that have ``timeframe`` bars."""
    return sorted({s.symbol for s in list_series(ctx) if s.timeframe == timeframe})


def load_bars(
    symbol: str | None = None,
    *,
    data: str | None = None,
    timeframe: str = "1d",
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    repair: bool = False,
    notes: list[str] | None = None,
    ctx: Context | None = None,
) -> pd.DataFrame:
    """Return validated bars for a bundled ``symbol`` or from the file ``data``.

    Exactly one of ``symbol`` and ``data`` must be given. The frame has a UTC
    ``ts`` index and float ``open, high, low, close, volume`` columns. With
    ``repair`` a file's offending rows are dropped; every repair and conversion
    is appended to ``notes`` when given. A ``start``/``end`` range that holds no
    bar raises :class:`DataError` saying which range the data covers.
    """
    if (symbol is None) == (data is None):
        raise DataError("give either a symbol or a data file (--data PATH), not both or neither")
    if data is not None:
        provider = FileProvider(data, repair=repair)
        frame = provider.bars(start=start, end=end)
        if notes is not None and provider.report is not None:
            notes.extend([*(f"repaired: {r}" for r in provider.report.repairs), *provider.report.notes])
        full = provider.frame()
    else:
        ctx = ctx or get_context()
        frame = ctx.sample.bars(symbol.upper(), timeframe, start, end)
        full = ctx.sample.bars(symbol.upper(), timeframe) if frame.empty else frame
    if frame.empty and (start is not None or end is not None):
        raise DataError(f"no bars between {start or 'the start'} and {end or 'the end'}: the data covers "
                        f"{full.index[0]:%Y-%m-%d} to {full.index[-1]:%Y-%m-%d}; pick dates inside that range")
    return frame


def bars_to_records(frame: pd.DataFrame) -> list[dict]:
    """Return bars as JSON-ready records with ISO-8601 UTC timestamps."""
    out = frame.reset_index()
    out["ts"] = out["ts"].map(lambda t: t.isoformat())
    return out.to_dict(orient="records")
