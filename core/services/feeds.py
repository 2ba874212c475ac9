"""Market-data feed services: test a provider's connection (one closed bar; the loop's feed state is in ``services.loop_state``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.data.providers import TIMEFRAMES, DataError, check_timeframe
from core.services.context import Context, get_context

PROVIDERS = ("venue", "ccxt", "alpaca", "yfinance", "zerodha")


def check_feed(provider: str | None = None, symbol: str | None = None, timeframe: str | None = None,
              ctx: Context | None = None) -> dict[str, Any]:
    """Fetch the newest closed bar of ``symbol`` from ``provider`` and return it.

    Parameters
    ----------
    provider
        One of ``venue, ccxt, alpaca, yfinance, zerodha`` (default: ``data.provider``).
    symbol
        In the provider's own spelling (default: ``data.default_symbol``).
    timeframe
        Bar interval (default: ``trading.timeframe``).

    Returns
    -------
    dict
        ``{"ok": True, "provider", "symbol", "timeframe", "bar": {...}}`` or ``{"ok": False, ..., "error": one line}``.
    """
    from core.trading.feeds.live import make_source

    ctx = ctx or get_context()
    provider = provider or ctx.settings.data.provider
    symbol = symbol or ctx.settings.data.default_symbol
    timeframe = timeframe or ctx.settings.trading.timeframe
    out: dict[str, Any] = {"ok": False, "provider": provider, "symbol": symbol, "timeframe": timeframe}
    try:
        if provider not in PROVIDERS:
            raise DataError(f"'{provider}' is not a live provider: use one of {', '.join(PROVIDERS)}")
        step = pd.Timedelta(TIMEFRAMES[check_timeframe(timeframe)])
        source = make_source(ctx, provider)
        now = pd.Timestamp(ctx.clock.now())
        server_time = getattr(source, "server_time", None)
        theirs = server_time() if server_time is not None else None
        now = now if theirs is None else min(now, theirs)  # a bar closing after the provider's clock is still forming
        frame = source.fetch(symbol, timeframe, now - step * (200 if source.calendar is None else 2000))
        closed = frame[frame["ts"] + step <= now] if not frame.empty else frame
        if closed.empty:
            raise DataError(f"{provider} returned no closed {timeframe} bar for {symbol} (market closed, wrong symbol, or no network)")
        row = closed.iloc[-1]
        out.update(ok=True, source=source.name, bar={"ts": pd.Timestamp(row["ts"]).isoformat(),
                                                     **{k: float(row[k]) for k in ("open", "high", "low", "close", "volume")}})
    except Exception as exc:  # a connection test reports every failure in one line
        out["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300] if not isinstance(exc, DataError) else str(exc).splitlines()[0]
    return out



def close_feeds(ctx: Context | None = None) -> None:
    """Close the live feeds' background connections (the kline WebSocket of ``data.stream``); the next tick opens them again."""
    from core.trading.feeds.streaming import close_streams

    close_streams(ctx or get_context())
