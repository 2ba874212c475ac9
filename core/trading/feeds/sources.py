"""Where live bars come from: one small adapter per client library.

Every source answers ``fetch(symbol, timeframe, since)`` with the provider's bars
from ``since`` on (the newest may still be forming: the feed drops it) as a raw
frame with a ``ts`` column and ``open, high, low, close, volume``, and names the
exchange calendar its market keeps (``None``: around the clock). No source opens
a connection before it is asked for bars.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd

from core.data.providers import DataError, check_timeframe

COLUMNS = ["ts", "open", "high", "low", "close", "volume"]


def _frame(rows: list[dict[str, Any]] | list[list[Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS) if rows else pd.DataFrame(columns=COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def rehost(exchange: Any, base_url: str) -> None:
    """Point every REST endpoint of a ccxt exchange at ``base_url`` (keeping each path): proxies and local servers."""
    from urllib.parse import urlparse

    origin = base_url.rstrip("/")
    api = exchange.urls["api"]
    exchange.urls["api"] = {k: origin + urlparse(v).path if isinstance(v, str) else v for k, v in api.items()}


class CcxtSource:
    """OHLCV from any ccxt exchange: ``fetch_ohlcv(symbol, timeframe, since, limit)``, paginated."""

    calendar = None

    def __init__(self, exchange: Any, page_limit: int = 1000) -> None:
        self.exchange = exchange
        self.page_limit = page_limit
        self.name = f"ccxt-{exchange.id}"

    def server_time(self) -> pd.Timestamp | None:
        """Return the exchange's clock (a bar closing later is still forming), or None if it has none."""
        import ccxt

        if not self.exchange.has.get("fetchTime"):
            return None
        try:
            return pd.Timestamp(self.exchange.fetch_time(), unit="ms", tz="UTC")
        except ccxt.BaseError as exc:
            raise DataError(f"{self.exchange.id}: cannot read the exchange time: {type(exc).__name__}: {str(exc)[:200]}") from None

    def fetch(self, symbol: str, timeframe: str, since: pd.Timestamp) -> pd.DataFrame:
        """Return the bars opened at or after ``since`` (pages until the newest)."""
        import ccxt

        check_timeframe(timeframe)
        ms = int(since.timestamp() * 1000)
        rows: list[list[Any]] = []
        try:
            for _ in range(100):  # at most 100 pages per call; the next call goes on from the last bar
                page = self.exchange.fetch_ohlcv(symbol, timeframe=timeframe, since=ms, limit=self.page_limit)
                page = [r for r in page if r[0] >= ms]
                rows.extend(page)
                if len(page) < self.page_limit:
                    break
                ms = page[-1][0] + 1
        except ccxt.BaseError as exc:
            raise DataError(f"{self.exchange.id}: cannot fetch {symbol} {timeframe}: {type(exc).__name__}: {str(exc)[:200]}") from None
        frame = _frame([r[:6] for r in rows])
        frame["ts"] = pd.to_datetime([r[0] for r in rows], unit="ms", utc=True) if rows else frame["ts"]
        return frame


class AlpacaSource:
    """US stock bars from Alpaca's market-data API (``StockHistoricalDataClient.get_stock_bars``)."""

    name = "alpaca"
    calendar = "XNYS"

    def __init__(self, client: Any) -> None:
        self.client = client

    def fetch(self, symbol: str, timeframe: str, since: pd.Timestamp) -> pd.DataFrame:
        """Return the bars opened at or after ``since``."""
        from alpaca.common.exceptions import APIError
        from alpaca.data.requests import StockBarsRequest
        from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

        units = {"1m": (1, TimeFrameUnit.Minute), "5m": (5, TimeFrameUnit.Minute), "15m": (15, TimeFrameUnit.Minute),
                 "1h": (1, TimeFrameUnit.Hour), "4h": (4, TimeFrameUnit.Hour), "1d": (1, TimeFrameUnit.Day)}
        if check_timeframe(timeframe) not in units:
            raise DataError(f"alpaca has no {timeframe} bars; use one of {', '.join(units)}")
        amount, unit = units[timeframe]
        request = StockBarsRequest(symbol_or_symbols=symbol, timeframe=TimeFrame(amount, unit), start=since.to_pydatetime())
        try:
            result = self.client.get_stock_bars(request)
        except (APIError, OSError, ValueError) as exc:
            raise DataError(f"alpaca: cannot fetch {symbol} {timeframe}: {type(exc).__name__}: {str(exc)[:200]}") from None
        bars = result.data.get(symbol, []) if hasattr(result, "data") else []
        return _frame([{"ts": b.timestamp, "open": b.open, "high": b.high, "low": b.low, "close": b.close, "volume": b.volume} for b in bars])


class YFinanceSource:
    """Delayed bars from Yahoo Finance (``yfinance.download``); offline it returns nothing, which is "no data"."""

    name = "yfinance"
    calendar = "XNYS"
    _INTERVALS = {"1m": "1m", "5m": "5m", "15m": "15m", "1h": "60m", "1d": "1d"}  # noqa: RUF012

    def __init__(self, download: Callable[..., pd.DataFrame] | None = None) -> None:
        self._download = download

    def fetch(self, symbol: str, timeframe: str, since: pd.Timestamp) -> pd.DataFrame:
        """Return the bars from ``since`` (empty when Yahoo answers nothing)."""
        interval = self._INTERVALS.get(check_timeframe(timeframe))
        if interval is None:
            raise DataError(f"yfinance has no {timeframe} bars; use one of {', '.join(self._INTERVALS)}")
        if self._download is None:
            import yfinance

            self._download = yfinance.download
        try:
            raw = self._download(symbol, start=since.to_pydatetime(), interval=interval, auto_adjust=True, progress=False,
                                 multi_level_index=False)
        except Exception as exc:  # yfinance raises many types offline; all of them mean "no data now"
            raise DataError(f"yfinance: cannot fetch {symbol} {timeframe}: {type(exc).__name__}: {str(exc)[:200]}") from None
        if raw is None or raw.empty:
            return _frame([])
        if isinstance(raw.columns, pd.MultiIndex):
            raw = raw.droplevel(-1, axis=1)
        raw = raw.reset_index()
        raw.columns = [str(c).lower() for c in raw.columns]
        time_col = next(c for c in raw.columns if c in ("datetime", "date", "ts", "index"))
        return _frame(raw.rename(columns={time_col: "ts"})[COLUMNS].to_dict("records"))


class KiteSource:
    """NSE/BSE bars from Zerodha Kite Connect's historical-data API (``EXCHANGE:SYMBOL`` names)."""

    name = "zerodha"
    calendar = "XBOM"  # NSE and BSE keep the same sessions and holidays
    _INTERVALS = {"1m": "minute", "5m": "5minute", "15m": "15minute", "1h": "60minute", "1d": "day"}  # noqa: RUF012

    def __init__(self, kite: Any, now: Callable[[], datetime]) -> None:
        self.kite = kite
        self.now = now
        self._tokens: dict[str, int] = {}

    def _token(self, symbol: str) -> int:
        if not self._tokens:
            exchange = symbol.split(":", 1)[0] if ":" in symbol else "NSE"
            for row in self.kite.instruments(exchange):
                self._tokens[f"{row['exchange']}:{row['tradingsymbol']}"] = int(row["instrument_token"])
        key = symbol if ":" in symbol else f"NSE:{symbol}"
        if key not in self._tokens:
            raise DataError(f"zerodha: unknown instrument {symbol}; use EXCHANGE:TRADINGSYMBOL, e.g. NSE:INFY")
        return self._tokens[key]

    def fetch(self, symbol: str, timeframe: str, since: pd.Timestamp) -> pd.DataFrame:
        """Return the bars from ``since`` to now."""
        from kiteconnect.exceptions import KiteException

        interval = self._INTERVALS.get(check_timeframe(timeframe))
        if interval is None:
            raise DataError(f"zerodha has no {timeframe} bars; use one of {', '.join(self._INTERVALS)}")
        ist = "Asia/Kolkata"  # Kite takes and returns exchange-local times
        try:
            rows = self.kite.historical_data(self._token(symbol), since.tz_convert(ist).tz_localize(None).to_pydatetime(),
                                             pd.Timestamp(self.now()).tz_convert(ist).tz_localize(None).to_pydatetime(), interval)
        except (KiteException, OSError, ValueError) as exc:
            raise DataError(f"zerodha: cannot fetch {symbol} {timeframe}: {type(exc).__name__}: {str(exc)[:200]}") from None
        out = []
        for r in rows:
            ts = pd.Timestamp(r["date"])
            ts = ts.tz_localize(ist) if ts.tzinfo is None else ts
            out.append({"ts": ts.tz_convert("UTC"), **{k: r[k] for k in ("open", "high", "low", "close", "volume")}})
        return _frame(out)
