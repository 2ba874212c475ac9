"""A live polling feed: closed bars from a provider, validated and cached before anyone sees them.

Each :meth:`LiveFeed.advance` asks the source for every bar since the last one
cached (so the first call after an outage back-fills the gap), drops the bar
still forming (its close time is later than the clock), drops duplicates and late
bars (at or before the released cursor: they were never seen, so they are never
acted on), validates the rest with :func:`core.data.validate.validate_ohlcv`,
writes them to the bar cache and only then releases them. The cursor (the last
released timestamp) and the warm-up boundary live in the settings table: a
restarted host reloads the cached bars and replays exactly the bars that were seen.
The cursor moves to the oldest "newest closed bar" of the symbols, so every symbol's
bar for a released timestamp has arrived.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd

from core.data.providers import TIMEFRAMES, DataError
from core.data.validate import DataValidationError, validate_ohlcv
from core.trading.feeds.base import FeedStatus

KEY = "feed"


def market_open(calendar: str | None, when: pd.Timestamp) -> bool:
    """Return True when ``calendar`` (an exchange-calendars name; None = around the clock) is in session at ``when``."""
    if calendar is None:
        return True
    import exchange_calendars as xcals

    cal = xcals.get_calendar(calendar)
    minute = pd.Timestamp(when).floor("min")
    if minute < cal.first_minute or minute > cal.last_minute:
        return False
    return bool(cal.is_open_on_minute(minute))


class LiveFeed:
    """Closed bars of ``symbols`` from ``source``, polled, cached, released in time order once.

    Parameters
    ----------
    store
        The bar cache and the settings table (cursor, warm-up boundary).
    source
        Has ``name``, ``calendar`` and ``fetch(symbol, timeframe, since)`` (see :mod:`core.trading.feeds.sources`).
    symbols, timeframe
        What is traded, in the provider's own spelling.
    warmup_bars
        History fetched at the first start; bars up to the last of it are never traded.
    now
        The clock (a bar whose close time is later is still forming).
    stale_after_bars
        No new closed bar for this many bar intervals (while the market is open) means stale.
    name
        Whose feed this is (the account): keys the persisted cursor.
    """

    live = True

    def __init__(self, store: Any, source: Any, symbols: list[str], timeframe: str, warmup_bars: int, now: Callable[[], datetime],
                 stale_after_bars: float = 3.0, name: str = "default") -> None:
        self.store = store
        self.source = source
        self.symbols = list(symbols)
        self.timeframe = timeframe
        self.step = pd.Timedelta(TIMEFRAMES[timeframe])
        self.warmup_bars = warmup_bars
        self.now = now
        self.stale_after = self.step * stale_after_bars
        self.key = f"{KEY}.{name}"
        self.error: str | None = None
        self.outages = 0
        self.received = 0
        self.dropped: dict[str, int] = {"forming": 0, "duplicate": 0, "late": 0, "invalid": 0}
        self._frames = {s: store.load_bars(s, timeframe, source.name) for s in self.symbols}
        if self.store.get_setting(f"{self.key}.start") is None:
            self._first_fill()

    # -- the Feed interface ---------------------------------------------------------------
    @property
    def start(self) -> pd.Timestamp:
        """Return the last warm-up bar (persisted at the first start)."""
        return pd.Timestamp(self.store.get_setting(f"{self.key}.start"))

    @property
    def cursor(self) -> pd.Timestamp:
        """Return the last released timestamp."""
        stored = self.store.get_setting(f"{self.key}.cursor")
        return pd.Timestamp(stored) if stored else self.start

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        """Return each symbol's cached bars up to the cursor (never a bar not yet released)."""
        cursor = self.cursor
        return {s: f.loc[:cursor] for s, f in self._frames.items()}

    @property
    def calendar(self) -> pd.DatetimeIndex:
        """Return the released timestamps of all symbols."""
        return pd.DatetimeIndex(sorted(set().union(*(f.index for f in self.frames.values()))))

    @property
    def exhausted(self) -> bool:
        """Return False: a live feed never ends."""
        return False

    def advance(self) -> pd.Timestamp:
        """Fetch, validate, cache and release the new closed bars; return the cursor."""
        failed = None
        try:
            now = self._provider_now()
            for symbol in self.symbols:
                try:
                    self._pull(symbol, now)
                except DataError as exc:
                    failed = str(exc)
        except DataError as exc:
            failed = str(exc)
        if failed and self.error is None:
            self.outages += 1
        self.error = failed
        newest = [f.index[-1] for f in self._frames.values() if len(f)]
        if len(newest) == len(self.symbols):
            target = min(newest)
            if target > self.cursor:
                self.store.set_setting(f"{self.key}.cursor", target.isoformat())
        return self.cursor

    def status(self) -> FeedStatus:
        """Return provider, last released bar, its age, staleness and market hours."""
        now = pd.Timestamp(self.now())
        cursor = self.cursor
        age = now - (cursor + self.step)
        is_open = market_open(self.source.calendar, now)
        stale = is_open and age > self.stale_after
        return FeedStatus(provider=self.source.name, live=True, last_bar=cursor.isoformat(), age_seconds=round(age.total_seconds(), 3),
                          stale=bool(stale), market_open=is_open, error=self.error, bars_received=self.received, outages=self.outages)

    # -- fetching ------------------------------------------------------------------------
    def _provider_now(self) -> pd.Timestamp:
        """Return the provider's clock when it has one (a bar closing after it is still forming), else ours."""
        ours = pd.Timestamp(self.now())
        server_time = getattr(self.source, "server_time", None)
        theirs = server_time() if server_time is not None else None
        return ours if theirs is None else min(ours, theirs)

    def _first_fill(self) -> None:
        now = self._provider_now()
        span = self.step * (self.warmup_bars + 2) * (1 if self.source.calendar is None else 5)
        for symbol in self.symbols:
            self._pull(symbol, now, since=now - span)
        short = {s: len(f) for s, f in self._frames.items() if len(f) < self.warmup_bars}
        if short:
            raise DataError(f"{self.source.name}: need {self.warmup_bars} closed bars of history per symbol, got {short}")
        start = min(f.index[-1] for f in self._frames.values())  # everything fetched at the first start is warm-up
        self.store.set_setting(f"{self.key}.start", start.isoformat())
        self.store.set_setting(f"{self.key}.cursor", start.isoformat())

    def _pull(self, symbol: str, now: pd.Timestamp, since: pd.Timestamp | None = None) -> None:
        frame = self._frames[symbol]
        if since is None:
            since = frame.index[-1] + pd.Timedelta(milliseconds=1) if len(frame) else now - self.step * (self.warmup_bars + 2)
        raw = self.source.fetch(symbol, self.timeframe, since)
        if raw.empty:
            return
        raw = raw.sort_values("ts")
        closed = raw[raw["ts"] + self.step <= now]
        self.dropped["forming"] += len(raw) - len(closed)
        floor = max(frame.index[-1] if len(frame) else pd.Timestamp.min.tz_localize("UTC"),
                    self.cursor if self.store.get_setting(f"{self.key}.start") else pd.Timestamp.min.tz_localize("UTC"))
        known = closed["ts"].isin(frame.index)
        self.dropped["duplicate"] += int(known.sum())
        late = ~known & (closed["ts"] <= floor)
        self.dropped["late"] += int(late.sum())
        fresh = closed[~known & ~late].drop_duplicates("ts", keep="last")
        if fresh.empty:
            return
        try:
            valid, report = validate_ohlcv(fresh, repair=True, source=f"{self.source.name} {symbol}")
        except DataValidationError as exc:
            self.dropped["invalid"] += len(fresh)
            self.store.audit("feed", f"{symbol}: bars rejected by validation: {exc}", {"rows": len(fresh)})
            return
        if report.dropped:
            self.dropped["invalid"] += report.dropped
            self.store.audit("feed", f"{symbol}: {report.dropped} invalid bar(s) dropped", {"repairs": report.repairs[:20]})
        if valid.empty:
            return
        # Stored before anyone sees them: a restart replays exactly these bars.
        self.store.save_bars(valid, symbol, self.timeframe, self.source.name, valid.index[0].to_pydatetime(), valid.index[-1].to_pydatetime())
        self._frames[symbol] = pd.concat([frame, valid]) if len(frame) else valid
        self.received += len(valid)


def _rehost(exchange: Any, base_url: str) -> None:
    """Point every REST endpoint of a ccxt exchange at ``base_url`` (keeping each path): proxies and local servers."""
    from urllib.parse import urlparse

    origin = base_url.rstrip("/")
    api = exchange.urls["api"]
    exchange.urls["api"] = {k: origin + urlparse(v).path if isinstance(v, str) else v for k, v in api.items()}


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def make_source(ctx: Any, provider: str) -> Any:
    """Return the bar source ``provider`` names, built from the settings (no network until it is asked for bars).

    ``venue`` is the traded venue's own market-data API (``brokers.default``) at the venue's base URL;
    the other providers take ``data.base_url`` when set (a proxy or a local server).
    """
    from core.trading.feeds import sources

    s = ctx.settings
    base_url = s.data.base_url
    if provider == "venue":
        venue = s.brokers.default
        if venue == "paper":
            raise DataError("data.provider 'venue' needs brokers.default to name a venue (binance, alpaca, zerodha); use ccxt, alpaca or replay")
        provider = {"binance": "ccxt", "alpaca": "alpaca", "zerodha": "zerodha"}[venue]
        base_url = getattr(getattr(s.brokers, venue), "base_url", None)
    if provider == "ccxt":
        import ccxt

        via_venue = s.data.provider == "venue"
        name = "binance" if via_venue else s.data.ccxt_exchange
        if not hasattr(ccxt, name):
            raise DataError(f"ccxt has no exchange '{name}'; set data.ccxt_exchange to a ccxt exchange id such as binance or kraken")
        exchange = getattr(ccxt, name)({"enableRateLimit": True, "timeout": 10_000,
                                        "options": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                                                    "fetchMargins": False, "adjustForTimeDifference": False}})
        if via_venue and s.brokers.binance.testnet and not base_url:
            exchange.set_sandbox_mode(True)
        if base_url:
            _rehost(exchange, base_url)
        return sources.CcxtSource(exchange)
    if provider == "alpaca":
        from alpaca.data.historical import StockHistoricalDataClient

        cfg = s.brokers.alpaca
        return sources.AlpacaSource(StockHistoricalDataClient(_secret(cfg.api_key), _secret(cfg.api_secret), url_override=base_url))
    if provider == "zerodha":
        from kiteconnect import KiteConnect

        cfg = s.brokers.zerodha
        kite = KiteConnect(_secret(cfg.api_key) or "", access_token=_secret(cfg.access_token), **({"root": base_url} if base_url else {}))
        return sources.KiteSource(kite, ctx.clock.now)
    if provider == "yfinance":
        return sources.YFinanceSource()
    raise DataError(f"unknown data provider '{provider}': use replay, venue, ccxt, alpaca, yfinance or zerodha")


def build_live_feed(ctx: Any, session: dict[str, Any], account: str, provider: str) -> LiveFeed:
    """Return the live feed of a session (its symbols and timeframe) over ``provider``."""
    return LiveFeed(ctx.store, make_source(ctx, provider), session["symbols"], session["timeframe"], session["warmup_bars"],
                    now=ctx.clock.now, stale_after_bars=ctx.settings.data.stale_after_bars, name=account)
