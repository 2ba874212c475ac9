"""Remote providers: yfinance, ccxt (OHLCV) and Alpaca (bars).

None is used unless configured; wrap them in :class:`core.data.providers.CachedProvider`
so a repeated request is served from the database. Client objects are injected
so tests can point the real client libraries at a local fake server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

import pandas as pd

from core.data.providers import DataError, SeriesInfo, _clip, _utc, check_timeframe
from core.data.validate import validate_ohlcv


class YFinanceProvider:
    """Daily/intraday bars from Yahoo Finance through ``yfinance.download``."""

    name = "yfinance"
    _INTERVALS: ClassVar[dict[str, str]] = {"1m": "1m", "5m": "5m", "15m": "15m", "1h": "60m", "1d": "1d"}

    def __init__(self, download: Callable[..., pd.DataFrame] | None = None) -> None:
        if download is None:
            import yfinance

            download = yfinance.download
        self._download = download

    def series(self) -> list[SeriesInfo]:
        """Return nothing: Yahoo has no listing we can use offline."""
        return []

    def bars(self, symbol: str, timeframe: str = "1d", start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        """Download split/dividend-adjusted bars (``auto_adjust=True``)."""
        interval = self._INTERVALS.get(check_timeframe(timeframe))
        if interval is None:
            raise DataError(f"yfinance has no {timeframe} bars; use one of {', '.join(self._INTERVALS)}")
        raw = self._download(symbol, start=start, end=end, interval=interval, auto_adjust=True, progress=False, multi_level_index=False)
        if raw is None or raw.empty:
            raise DataError(f"yfinance returned no data for {symbol} ({timeframe}); check the symbol and your network connection")
        if isinstance(raw.columns, pd.MultiIndex):
            raw = raw.xs(symbol, axis=1, level=-1) if symbol in raw.columns.get_level_values(-1) else raw.droplevel(-1, axis=1)
        frame, _ = validate_ohlcv(raw.reset_index(), repair=True, source=f"yfinance {symbol}")
        return _clip(frame, start, end)


class CcxtProvider:
    """OHLCV from any ccxt exchange, paginated by ``since``/``limit``."""

    def __init__(self, exchange: Any, page_limit: int = 1000) -> None:
        self.exchange = exchange
        self.page_limit = page_limit
        self.name = f"ccxt-{exchange.id}"

    def series(self) -> list[SeriesInfo]:
        """Return nothing: listing every market is not a series listing."""
        return []

    def bars(self, symbol: str, timeframe: str = "1d", start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        """Fetch bars page by page from ``start`` to ``end``."""
        import ccxt

        check_timeframe(timeframe)
        since = int(_utc(start).timestamp() * 1000) if start is not None else None
        end_ms = int(_utc(end).timestamp() * 1000) if end is not None else None
        rows: list[list[float]] = []
        try:
            while True:
                page = self.exchange.fetch_ohlcv(symbol, timeframe=timeframe, since=since, limit=self.page_limit)
                if not page:
                    break
                rows.extend(page)
                last = page[-1][0]
                if len(page) < self.page_limit or (end_ms is not None and last >= end_ms) or (since is not None and last < since):
                    break
                since = last + 1
        except ccxt.BaseError as exc:
            raise DataError(f"{self.exchange.id}: cannot fetch {symbol} {timeframe}: {type(exc).__name__}: {exc}") from None
        if not rows:
            raise DataError(f"{self.exchange.id} returned no bars for {symbol} {timeframe}")
        raw = pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close", "volume"])
        frame, _ = validate_ohlcv(raw, repair=True, source=f"{self.exchange.id} {symbol}")
        return _clip(frame, start, end)


class AlpacaProvider:
    """Stock bars from Alpaca's market-data API through alpaca-py."""

    name = "alpaca"

    def __init__(self, client: Any) -> None:
        self.client = client

    def series(self) -> list[SeriesInfo]:
        """Return nothing (no offline listing)."""
        return []

    def bars(self, symbol: str, timeframe: str = "1d", start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        """Fetch bars with ``get_stock_bars``."""
        from alpaca.common.exceptions import APIError
        from alpaca.data.requests import StockBarsRequest
        from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

        units = {
            "1m": TimeFrame(1, TimeFrameUnit.Minute), "5m": TimeFrame(5, TimeFrameUnit.Minute),
            "15m": TimeFrame(15, TimeFrameUnit.Minute), "1h": TimeFrame(1, TimeFrameUnit.Hour),
            "4h": TimeFrame(4, TimeFrameUnit.Hour), "1d": TimeFrame(1, TimeFrameUnit.Day),
        }
        if check_timeframe(timeframe) not in units:
            raise DataError(f"alpaca has no {timeframe} bars; use one of {', '.join(units)}")
        request = StockBarsRequest(symbol_or_symbols=symbol, timeframe=units[timeframe], start=start, end=end)
        try:
            result = self.client.get_stock_bars(request)
        except APIError as exc:
            raise DataError(f"alpaca: cannot fetch {symbol} {timeframe}: {exc}") from None
        bars = result.data.get(symbol, []) if hasattr(result, "data") else []
        if not bars:
            raise DataError(f"alpaca returned no bars for {symbol} {timeframe}")
        raw = pd.DataFrame(
            [{"timestamp": b.timestamp, "open": b.open, "high": b.high, "low": b.low, "close": b.close, "volume": b.volume} for b in bars]
        )
        frame, _ = validate_ohlcv(raw, repair=True, source=f"alpaca {symbol}")
        return _clip(frame, start, end)
