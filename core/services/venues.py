"""Venues for the trading loop and the "test connection" check (Settings page, ``python -m core venue test``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.brokers.base import Broker
from core.services.context import Context, get_context

VENUE_NAMES = ("binance", "alpaca", "zerodha", "router")


def venue_broker(ctx: Context, name: str, symbols: Sequence[str] = ()) -> Broker:
    """Return the adapter for venue ``name`` built by the factory from the settings (testnet/paper unless live is confirmed).

    ``router`` builds a router over ``brokers.route`` (in preference order). ``symbols`` are
    the venue-native symbols the session trades (Binance lists fills per symbol).
    """
    from core.brokers.factory import build_broker, build_router

    def options(venue: str) -> dict[str, Any]:
        return {"symbols": list(symbols)} if venue == "binance" else {}

    if name == "router":
        names = list(ctx.settings.brokers.route)
        if not names:
            from core.brokers.base import BrokerError

            raise BrokerError("brokers.default is router but brokers.route names no venue: set e.g. brokers.route: [binance, alpaca]")
        return build_router(ctx.settings, names, options={n: options(n) for n in names})
    return build_broker(ctx.settings, name, **options(name))


def check_venue(venue: str | None = None, ctx: Context | None = None) -> dict[str, Any]:
    """Connect to ``venue`` (default ``brokers.default``) and return its account: endpoint kind, cash, balances.

    Returns
    -------
    dict
        ``{"ok": True, "venue", "endpoint", "cash", "currency", "balances": {asset: total}, "open_orders"}`` or
        ``{"ok": False, "venue", "error": one line}`` (a missing key, a refused live endpoint, a network error...).
    """
    from core.trading.venue import venue_cash, venue_kind

    ctx = ctx or get_context()
    venue = venue or ctx.settings.brokers.default
    out: dict[str, Any] = {"ok": False, "venue": venue}
    try:
        if venue not in VENUE_NAMES:
            raise ValueError(f"'{venue}' is not a venue: use one of {', '.join(VENUE_NAMES)} (paper needs no connection)")
        broker = venue_broker(ctx, venue, [s for s in ctx.settings.trading.symbols])
        balances = broker.balances()
        cash, currency = venue_cash(balances, getattr(broker, "quote", None))
        out.update(ok=True, endpoint=venue_kind(broker), name=str(getattr(broker, "name", venue)), cash=cash, currency=currency,
                   balances={b.currency: b.total for b in balances}, open_orders=len(broker.open_orders()))
    except Exception as exc:  # one line for the user, whatever the client raised
        out["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
    return out
