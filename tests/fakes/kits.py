"""Ready-made (fake venue, real adapter) pairs for tests: ``make_kit("binance")`` and friends.

Adapters get a short HTTP timeout, a retry policy that never sleeps for real
(``sleeps`` records the waits asked for) and a generous rate limit, so fault
tests stay fast and can assert the waits (e.g. that ``Retry-After`` was honoured).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.brokers.alpaca import AlpacaBroker
from core.brokers.base import Broker
from core.brokers.binance import BinanceBroker
from core.brokers.retry import RetryPolicy
from core.brokers.zerodha import ZerodhaBroker
from core.domain import TimeInForce

from ._http import FakeVenue
from .alpaca_fake import AlpacaFake
from .binance_fake import BinanceFake
from .kite_fake import KiteFake

TIMEOUT = 0.3  # client timeout (s); injected timeouts sleep twice as long
FAST = RetryPolicy(attempts=4, base_delay=0.05, factor=2.0, max_delay=0.4, max_retry_after=5.0)
VENUES = ("binance", "alpaca", "zerodha")

# Distinct, recognisable credentials: the secrets scan looks for exactly these strings.
SECRETS = {
    "binance": ("bnKEY-7f3a9c1e2d", "bnSECRET-4b8e6d0a9f"),
    "alpaca": ("PKTEST-a1b2c3d4e5", "pkSECRET-9z8y7x6w5v"),
    "zerodha": ("kiteKEY-33aa44bb", "kiteTOKEN-55cc66dd", "kiteSECRET-77ee88ff"),
}


@dataclass
class Kit:
    """A started fake venue, a way to build (fresh) adapters on it, and venue facts for generic tests."""

    name: str
    fake: Any
    make: Callable[..., Broker]
    symbol: str
    qty: float
    price: float
    below: float  # a limit buy price that rests
    tif: TimeInForce
    order_post: tuple[str, str]
    count: Callable[[str], int]
    sleeps: list[float] = field(default_factory=list)

    def broker(self, **kw: Any) -> Broker:
        """Return a new adapter instance (a new instance is what a restarted process has)."""
        return self.make(**kw)

    def set_price(self, price: float) -> None:
        """Move the fake's price of ``self.symbol``."""
        sym = self.symbol.replace("/", "")
        self.fake.set_price(sym, price)


def make_kit(name: str, **fake_kw: Any) -> Kit:
    """Start the fake for venue ``name`` and return its kit (call ``kit.fake.stop()`` when done)."""
    sleeps: list[float] = []
    fake: FakeVenue
    if name == "binance":
        key, secret = SECRETS["binance"]
        fake = BinanceFake(api_key=key, api_secret=secret, **fake_kw).start()

        def make(**kw: Any) -> Broker:
            opts = {"base_url": fake.url, "timeout": TIMEOUT, "policy": FAST, "rate_limit_ms": 1, "sleep": sleeps.append, **kw}
            return BinanceBroker(key, secret, **opts)

        return Kit(name, fake, make, "BTC/USDT", 0.1, 50_000.0, 45_000.0, TimeInForce.GTC, ("POST", "/api/v3/order"),
                   lambda cid: len(fake.orders_with_client_id(cid)), sleeps)
    if name == "alpaca":
        key, secret = SECRETS["alpaca"]
        fake = AlpacaFake(api_key=key, api_secret=secret, **fake_kw).start()

        def make(**kw: Any) -> Broker:
            opts = {"base_url": fake.url, "timeout": TIMEOUT, "policy": FAST, "rate": 1000.0, "burst": 1000.0, "sleep": sleeps.append, **kw}
            return AlpacaBroker(key, secret, **opts)

        return Kit(name, fake, make, "AAPL", 10, 190.0, 180.0, TimeInForce.GTC, ("POST", "/v2/orders"),
                   lambda cid: len(fake.orders_with_client_id(cid)), sleeps)
    if name == "zerodha":
        key, token, secret = SECRETS["zerodha"]
        fake = KiteFake(api_key=key, access_token=token, api_secret=secret, **fake_kw).start()

        def make(**kw: Any) -> Broker:
            opts = {"root": fake.url, "timeout": TIMEOUT, "policy": FAST, "rate": 1000.0, "burst": 1000.0, "sleep": sleeps.append,
                    "api_secret": secret, **kw}
            return ZerodhaBroker(key, token, **opts)

        return Kit(name, fake, make, "INFY", 10, 1500.0, 1400.0, TimeInForce.DAY, ("POST", "/orders/regular"),
                   lambda cid: len(fake.orders_with_tag(cid)), sleeps)
    raise ValueError(name)
