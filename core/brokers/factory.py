"""Build a venue adapter (or a router over several) from the settings.

Keys come only from the settings' ``SecretStr`` fields (environment or ``.env``).
Live (real-money) endpoints are built only when ``mode: live`` AND
``live_confirmed: true``; otherwise the adapters refuse (see
:class:`~core.brokers._venue.LiveTradingNotAllowed`). Live is decided by the
resolved endpoint (``brokers.<venue>.base_url`` or the venue default), never by
the testnet/paper flag alone: only loopback hosts and the venues' own sandbox
hosts are not live. Binance defaults to the testnet and Alpaca to the paper
account; Zerodha has no paper endpoint, so any non-loopback endpoint is live.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.brokers._venue import LiveTradingNotAllowed
from core.brokers.base import Broker, BrokerError
from core.brokers.router import Liquidity, Router
from core.config import Settings
from core.domain import Mode

VENUES = ("binance", "alpaca", "zerodha")

__all__ = ["VENUES", "LiveTradingNotAllowed", "build_broker", "build_router", "live_allowed"]


def live_allowed(settings: Settings) -> bool:
    """Return True only when both deliberate steps were taken: ``mode: live`` and ``live_confirmed: true``."""
    return settings.mode is Mode.LIVE and bool(settings.live_confirmed)


def _need(value: Any, key: str) -> Any:
    if value is None or (hasattr(value, "get_secret_value") and not value.get_secret_value()):
        env = "APP__" + key.upper().replace(".", "__")
        raise BrokerError(f"missing {key}: set {env} in the environment or .env (never in config.yaml)")
    return value


def build_broker(settings: Settings, name: str | None = None, *, url: str | None = None, paper_factory: Callable[[Settings], Broker] | None = None,
                 **options: Any) -> Broker:
    """Return the adapter for venue ``name`` (default ``settings.brokers.default``).

    Parameters
    ----------
    url
        Point the client at another origin (a local fake or proxy); overrides
        ``brokers.<venue>.base_url``. Loopback URLs are never live; any other
        non-sandbox URL is.
    paper_factory
        How to build the paper broker when ``name`` is ``"paper"`` (it lives in its own module).
    **options
        Passed to the adapter (``timeout``, ``policy``, ``rate``, ``symbols``...).

    Raises
    ------
    LiveTradingNotAllowed
        For a live endpoint without ``mode: live`` and ``live_confirmed: true``.
    BrokerError
        When a needed key is missing or the venue is unknown.
    """
    name = name or settings.brokers.default
    allow_live = live_allowed(settings)
    if name == "paper":
        if paper_factory is None:
            raise BrokerError("the paper broker is not a venue adapter: pass paper_factory or build it from core.brokers.paper")
        return paper_factory(settings)
    if name == "binance":
        from core.brokers.binance import BinanceBroker

        cfg = settings.brokers.binance
        return BinanceBroker(_need(cfg.api_key, "brokers.binance.api_key"), _need(cfg.api_secret, "brokers.binance.api_secret"),
                             testnet=cfg.testnet, allow_live=allow_live, base_url=url or cfg.base_url,
                             **{"rate_limit_ms": cfg.rate_limit_ms, **options})
    if name == "alpaca":
        from core.brokers.alpaca import AlpacaBroker

        cfg = settings.brokers.alpaca
        return AlpacaBroker(_need(cfg.api_key, "brokers.alpaca.api_key"), _need(cfg.api_secret, "brokers.alpaca.api_secret"),
                            paper=cfg.paper, allow_live=allow_live, base_url=url or cfg.base_url, **{"rate": cfg.requests_per_second, **options})
    if name == "zerodha":
        from core.brokers.zerodha import ZerodhaBroker

        cfg = settings.brokers.zerodha
        return ZerodhaBroker(_need(cfg.api_key, "brokers.zerodha.api_key"), _need(cfg.access_token, "brokers.zerodha.access_token"),
                             api_secret=cfg.api_secret, allow_live=allow_live, root=url or cfg.base_url, **{"rate": cfg.requests_per_second, **options})
    raise BrokerError(f"unknown broker {name!r}: choose one of paper, {', '.join(VENUES)}")


def build_router(settings: Settings, names: Sequence[str], *, urls: dict[str, str] | None = None, options: dict[str, dict[str, Any]] | None = None,
                 liquidity: Liquidity | None = None, **router_options: Any) -> Router:
    """Return a :class:`Router` over the venues ``names`` (in preference order)."""
    urls, options = urls or {}, options or {}
    venues = [build_broker(settings, n, url=urls.get(n), **options.get(n, {})) for n in names]
    return Router(venues, liquidity=liquidity, **router_options)
