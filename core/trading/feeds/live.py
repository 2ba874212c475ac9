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

from collections import OrderedDict
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
    window
        Bars per symbol kept in memory after the start (at least twice the warm-up). Each tick
        touches only the new bars, so its cost does not grow with the history; older bars stay
        in the bar cache, where a rebuild (a restart, a failed tick) reads them.
    """

    live = True

    def __init__(self, store: Any, source: Any, symbols: list[str], timeframe: str, warmup_bars: int, now: Callable[[], datetime],
                 stale_after_bars: float = 3.0, name: str = "default", window: int = 5_000) -> None:
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
        self.received_via: dict[str, int] = {}  # bars cached per path: "stream" (the WebSocket) or "rest" (polled)
        self.dropped: dict[str, int] = {"forming": 0, "duplicate": 0, "late": 0, "invalid": 0}
        self.window = max(window, 2 * warmup_bars)
        self.rows_handled = 0  # rows the per-tick path touched (fetched, checked, cached, released): bounded by the new bars
        # The stored history at start (warm-up and recovery read it once), then a bounded buffer of the bars cached since.
        self._base = {s: store.load_bars(s, timeframe, source.name) for s in self.symbols}
        self._recent: dict[str, OrderedDict[pd.Timestamp, tuple[float, ...]]] = {s: OrderedDict() for s in self.symbols}
        self._last = {s: (f.index[-1] if len(f) else None) for s, f in self._base.items()}
        self._evicted = False
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
        """Return each symbol's cached bars up to the cursor (never a bar not yet released).

        The whole history: for the warm-up and a rebuild, not for every tick (see :meth:`pending` and :meth:`row`).
        """
        cursor = self.cursor
        return {s: f.loc[:cursor] for s, f in self._all().items()}

    @property
    def calendar(self) -> pd.DatetimeIndex:
        """Return the released timestamps of all symbols (the whole history, like :attr:`frames`)."""
        return pd.DatetimeIndex(sorted(set().union(*(f.index for f in self.frames.values()))))

    def pending(self, after: pd.Timestamp, upto: pd.Timestamp) -> list[pd.Timestamp]:
        """Return the released timestamps in ``(after, upto]``, oldest first, reading only the bars newer than ``after``."""
        upto = min(upto, self.cursor)
        found: set[pd.Timestamp] = set()
        for symbol, recent in self._recent.items():
            reached = False
            for ts in reversed(recent):  # newest first: stop at the first bar already processed
                self.rows_handled += 1
                if ts <= after:
                    reached = True
                    break
                if ts <= upto:
                    found.add(ts)
            base = self._base[symbol]
            if not reached and (self._evicted or (len(base) and base.index[-1] > after)):
                # ``after`` is older than the buffer (a rebuild after a long gap): read the history once.
                cal = self.calendar
                return list(cal[(cal > after) & (cal <= upto)])
        return sorted(found)

    def row(self, symbol: str, ts: pd.Timestamp) -> tuple[float, ...] | None:
        """Return ``(open, high, low, close, volume)`` of ``symbol`` at the released ``ts`` (None when it has no bar there)."""
        if ts > self.cursor:
            return None
        recent = self._recent[symbol].get(ts)
        if recent is not None:
            return recent
        base = self._base[symbol]
        pos = base.index.get_indexer([ts])[0]
        if pos < 0:
            return self._row_from_store(symbol, ts) if self._evicted else None
        return tuple(float(x) for x in base.iloc[pos][["open", "high", "low", "close", "volume"]])

    def _row_from_store(self, symbol: str, ts: pd.Timestamp) -> tuple[float, ...] | None:
        frame = self._all()[symbol]
        return tuple(float(x) for x in frame.loc[ts, ["open", "high", "low", "close", "volume"]]) if ts in frame.index else None

    def _all(self) -> dict[str, pd.DataFrame]:
        """Return each symbol's whole cached history (from the bar cache once bars left the buffer)."""
        if self._evicted:
            return {s: self.store.load_bars(s, self.timeframe, self.source.name) for s in self.symbols}
        out = {}
        for s in self.symbols:
            recent = self._recent[s]
            if not recent:
                out[s] = self._base[s]
                continue
            tail = pd.DataFrame(list(recent.values()), index=pd.DatetimeIndex(list(recent.keys()), name=self._base[s].index.name),
                                columns=["open", "high", "low", "close", "volume"])
            out[s] = pd.concat([self._base[s], tail]) if len(self._base[s]) else tail
        return out

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
        newest = [ts for ts in self._last.values() if ts is not None]
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
                          stale=bool(stale), market_open=is_open, error=self.error, bars_received=self.received, outages=self.outages,
                          mode=getattr(self.source, "mode", "polling"), via=dict(self.received_via))

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
        short = {s: n for s, n in ((s, len(self._base[s]) + len(self._recent[s])) for s in self.symbols) if n < self.warmup_bars}
        if short:
            raise DataError(f"{self.source.name}: need {self.warmup_bars} closed bars of history per symbol, got {short}")
        start = min(ts for ts in self._last.values() if ts is not None)  # everything fetched at the first start is warm-up
        self.store.set_setting(f"{self.key}.start", start.isoformat())
        self.store.set_setting(f"{self.key}.cursor", start.isoformat())

    def _pull(self, symbol: str, now: pd.Timestamp, since: pd.Timestamp | None = None) -> None:
        last = self._last[symbol]
        if since is None:
            since = last + pd.Timedelta(milliseconds=1) if last is not None else now - self.step * (self.warmup_bars + 2)
        raw = self.source.fetch(symbol, self.timeframe, since)
        self.rows_handled += len(raw)
        if raw.empty:
            return
        raw = raw.sort_values("ts")
        closed = raw[raw["ts"] + self.step <= now]
        self.dropped["forming"] += len(raw) - len(closed)
        floor = max(last if last is not None else pd.Timestamp.min.tz_localize("UTC"),
                    self.cursor if self.store.get_setting(f"{self.key}.start") else pd.Timestamp.min.tz_localize("UTC"))
        known = self._known(symbol, closed["ts"])
        self.dropped["duplicate"] += int(known.sum())
        late = ~known & (closed["ts"] <= floor)
        self.dropped["late"] += int(late.sum())
        fresh = closed[~known & ~late].drop_duplicates("ts", keep="last")
        if fresh.empty:
            return
        paths = dict(zip(fresh["ts"], fresh.pop("via"), strict=True)) if "via" in fresh else {}
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
        recent = self._recent[symbol]
        for ts, row in zip(valid.index, valid[["open", "high", "low", "close", "volume"]].itertuples(index=False, name=None), strict=True):
            recent[ts] = tuple(float(x) for x in row)
        self._last[symbol] = valid.index[-1]
        self.received += len(valid)
        for ts in valid.index:
            path = paths.get(ts, "rest")
            self.received_via[path] = self.received_via.get(path, 0) + 1
        self.rows_handled += len(valid)
        cursor = self.cursor if self.store.get_setting(f"{self.key}.start") else None
        while len(recent) > self.window and cursor is not None and next(iter(recent)) < cursor:
            recent.popitem(last=False)  # released long ago: the bar cache keeps it
            self._evicted = True

    def _known(self, symbol: str, ts: pd.Series) -> pd.Series:
        """Return which of ``ts`` are cached already (hash lookups: the fetched rows only, not the history)."""
        recent, base = self._recent[symbol], self._base[symbol].index
        in_base = base.get_indexer(pd.DatetimeIndex(ts)) >= 0 if len(base) else [False] * len(ts)
        return pd.Series([b or t in recent for t, b in zip(ts, in_base, strict=True)], index=ts.index, dtype=bool)


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
        if via_venue and s.brokers.binance.rate_limit_ms:
            exchange.rateLimit = s.brokers.binance.rate_limit_ms  # the venue's endpoint, paced as its orders are
        if base_url:
            sources.rehost(exchange, base_url)
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
    """Return the live feed of a session (its symbols and timeframe) over ``provider``.

    With ``data.stream`` the bars come over the exchange's WebSocket, REST polling while it is
    down (:mod:`core.trading.feeds.streaming`); the setting is read at every build, not pinned:
    the bars are the same either way.
    """
    source = make_source(ctx, provider)
    if ctx.settings.data.stream:
        from core.trading.feeds.streaming import stream_source

        source = stream_source(ctx, provider, source, session["timeframe"])
    return LiveFeed(ctx.store, source, session["symbols"], session["timeframe"], session["warmup_bars"],
                    now=ctx.clock.now, stale_after_bars=ctx.settings.data.stale_after_bars, name=account)
