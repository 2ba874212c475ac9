"""Choose a venue per order and fail over when one is down.

Selection, in order:

1. **Eligibility.** The venue trades the order's asset class (``order.tags["asset_class"]``
   or :func:`guess_asset_class`) and is the one named in ``order.tags["venue"]``, if any. Among those, venues where the order type and time in
   force are native are preferred; if none has them natively, every eligible venue
   stays in (the order manager emulates the type). Venues marked down are skipped
   until their cool-down ends.
2. **Score** (lower is better), the expected cost in basis points of the order's notional::

       score = fee_bps + latency_weight * latency_ms + impact_bps

   - ``fee_bps = 1e4 * fee``: the maker fee for a resting limit order, else the taker fee;
   - ``latency_ms``: an exponentially weighted mean (``alpha``) of the venue's measured
     call latency; ``default_latency_ms`` until measured. ``latency_weight`` is in bp per
     ms (default 0.02: 50 ms cost 1 bp);
   - ``impact_bps = 1e4 * impact_coef * notional / liquidity``, where ``liquidity`` is
     what the ``liquidity`` callback returns for the venue and symbol in quote currency
     (top-of-book depth or daily dollar volume); ``unknown_liquidity_bps`` when it
     returns None. ``notional = quantity * (limit or stop price or tags["ref_price"])``.
   Ties keep the configured venue order.
3. **Failover.** A submit that fails with :class:`~core.brokers.retry.VenueUnavailable`
   (nothing can have been placed) marks that venue down for ``cooldown`` seconds and
   tries the next one. :class:`~core.brokers.retry.OrderStateUnknown` is never failed
   over: the order may exist at the first venue, so routing it again could double it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.brokers.base import Balance, Broker, BrokerError, Capabilities, OrderNotFound
from core.brokers.retry import VenueUnavailable
from core.domain import AssetClass, Fill, Order, OrderType, Position

log = logging.getLogger("core.brokers.router")
Liquidity = Callable[[Broker, str], float | None]


class NoVenue(BrokerError):
    """No configured venue can take the order (asset class unsupported or every venue down)."""


def guess_asset_class(symbol: str) -> AssetClass:
    """Return CRYPTO for pairs such as ``BTC/USDT``, ``BTC-USD`` or ``ETHUSDT``, else EQUITY."""
    s = symbol.upper()
    if "/" in s or s.endswith(("USDT", "BUSD", "USDC")) or (s.endswith("-USD") and s.split("-")[0] in {"BTC", "ETH", "SOL", "XRP", "ADA", "DOGE"}):
        return AssetClass.CRYPTO
    return AssetClass.EQUITY


@dataclass(frozen=True)
class ScoreWeights:
    """The router's documented scoring parameters (see the module docstring)."""

    latency_weight: float = 0.02
    impact_coef: float = 0.1
    unknown_liquidity_bps: float = 5.0
    default_latency_ms: float = 100.0
    alpha: float = 0.3


@dataclass
class VenueState:
    """What the router knows about one venue."""

    broker: Broker
    latency_ms: float | None = None
    down_until: float = 0.0
    failures: int = 0


class Router:
    """A :class:`~core.brokers.base.Broker` over several venues: routes each order, remembers where it went.

    Parameters
    ----------
    venues
        Brokers in preference order (used to break score ties).
    liquidity
        ``liquidity(broker, symbol)`` in quote currency, or None when unknown.
    cooldown
        Seconds a venue stays marked down after a failover.
    """

    name = "router"

    def __init__(self, venues: Sequence[Broker], *, liquidity: Liquidity | None = None, weights: ScoreWeights | None = None,
                 cooldown: float = 30.0, monotonic: Callable[[], float] = time.monotonic,
                 asset_class_of: Callable[[str], AssetClass] = guess_asset_class) -> None:
        if not venues:
            raise ValueError("Router needs at least one venue")
        names = [v.name for v in venues]
        if len(set(names)) != len(names):
            raise ValueError(f"venue names must be unique, got {names}")
        self.venues = {v.name: VenueState(v) for v in venues}
        self.liquidity = liquidity
        self.weights = weights or ScoreWeights()
        self.cooldown = cooldown
        self._monotonic = monotonic
        self._asset_class_of = asset_class_of
        self.routes: dict[str, str] = {}  # client order id -> venue name

    # -- measurements -------------------------------------------------------------------
    def record_latency(self, venue: str, ms: float) -> None:
        """Fold one latency measurement into the venue's moving average."""
        st = self.venues[venue]
        a = self.weights.alpha
        st.latency_ms = ms if st.latency_ms is None else a * ms + (1 - a) * st.latency_ms

    def _timed(self, st: VenueState, fn: Callable[[], object]) -> object:
        t0 = time.perf_counter()
        out = fn()
        self.record_latency(st.broker.name, (time.perf_counter() - t0) * 1000.0)
        return out

    def probe(self) -> dict[str, float | None]:
        """Measure each venue's latency with a cheap read (balances); mark unreachable ones down."""
        for st in self.venues.values():
            try:
                self._timed(st, st.broker.balances)
                st.down_until, st.failures = 0.0, 0
            except BrokerError as exc:
                self._mark_down(st, exc)
        return {n: st.latency_ms for n, st in self.venues.items()}

    def _mark_down(self, st: VenueState, exc: Exception) -> None:
        st.failures += 1
        st.down_until = self._monotonic() + self.cooldown
        log.warning("venue %s marked down for %.0fs: %s", st.broker.name, self.cooldown, exc)

    # -- selection -------------------------------------------------------------------------
    def score(self, venue: str, order: Order) -> float:
        """Return the venue's score for ``order`` in basis points (lower is better)."""
        st, w = self.venues[venue], self.weights
        caps = st.broker.capabilities()
        resting = order.order_type is OrderType.LIMIT
        fee_bps = 1e4 * (caps.maker_fee if resting else caps.taker_fee)
        latency = st.latency_ms if st.latency_ms is not None else w.default_latency_ms
        price = order.limit_price or order.stop_price or order.tags.get("ref_price")
        notional = order.quantity * float(price) if price else order.quantity
        liq = self.liquidity(st.broker, order.symbol) if self.liquidity else None
        impact = w.unknown_liquidity_bps if not liq else 1e4 * w.impact_coef * notional / liq
        return fee_bps + w.latency_weight * latency + impact

    def rank(self, order: Order) -> list[tuple[str, float]]:
        """Return eligible venues that are up, best first, with their scores."""
        ac = AssetClass(order.tags["asset_class"]) if "asset_class" in order.tags else self._asset_class_of(order.symbol)
        now = self._monotonic()
        eligible = [st for st in self.venues.values() if ac in st.broker.capabilities().asset_classes]
        if "venue" in order.tags:  # the caller pinned a venue (e.g. the only one listing the symbol)
            eligible = [st for st in eligible if st.broker.name == order.tags["venue"]]
        if not eligible:
            raise NoVenue(f"no configured venue trades {ac} ({order.symbol}); configured: {', '.join(self.venues)}")
        native = [st for st in eligible if st.broker.capabilities().supports(order.order_type)
                  and order.time_in_force in st.broker.capabilities().time_in_force]
        pool = [st for st in (native or eligible) if st.down_until <= now]
        order_of = {n: i for i, n in enumerate(self.venues)}
        scored = [(st.broker.name, self.score(st.broker.name, order)) for st in pool]
        return sorted(scored, key=lambda x: (x[1], order_of[x[0]]))

    # -- Broker protocol ----------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        """Return the union of the venues' capabilities (lowest fees)."""
        caps = [st.broker.capabilities() for st in self.venues.values()]
        return Capabilities(
            order_types=frozenset().union(*(c.order_types for c in caps)), time_in_force=frozenset().union(*(c.time_in_force for c in caps)),
            asset_classes=frozenset().union(*(c.asset_classes for c in caps)), oco=any(c.oco for c in caps), bracket=any(c.bracket for c in caps),
            shorting=any(c.shorting for c in caps), fractional=any(c.fractional for c in caps),
            maker_fee=min(c.maker_fee for c in caps), taker_fee=min(c.taker_fee for c in caps), extra={"venues": list(self.venues)},
        )

    def submit(self, order: Order) -> Order:
        """Send ``order`` to the best venue; fail over only when the venue provably took nothing."""
        if order.client_order_id in self.routes:  # idempotent: the same ID always goes to the same venue
            return self.venues[self.routes[order.client_order_id]].broker.submit(order)
        ranked = self.rank(order)
        if not ranked:
            raise NoVenue(f"every venue that trades {order.symbol} is down; retry after the cool-down ({self.cooldown:.0f}s)")
        errors = []
        for name, score in ranked:
            st = self.venues[name]
            try:
                placed = self._timed(st, lambda b=st.broker: b.submit(order))
            except VenueUnavailable as exc:
                self._mark_down(st, exc)
                errors.append(f"{name}: {exc}")
                continue
            self.routes[order.client_order_id] = name
            log.info("routed %s to %s (score %.2f bp)", order.client_order_id, name, score)
            return placed  # type: ignore[return-value]
        raise NoVenue(f"no venue could take {order.client_order_id}: " + "; ".join(errors))

    def _venue_of(self, client_order_id: str) -> Broker:
        if client_order_id in self.routes:
            return self.venues[self.routes[client_order_id]].broker
        for name, st in self.venues.items():  # after a restart: ask each venue
            try:
                st.broker.get_order(client_order_id)
            except (OrderNotFound, VenueUnavailable):
                continue
            self.routes[client_order_id] = name
            return st.broker
        raise OrderNotFound(f"no venue knows order {client_order_id}")

    def cancel(self, client_order_id: str) -> Order:
        """Cancel at the venue that holds the order."""
        return self._venue_of(client_order_id).cancel(client_order_id)

    def replace(self, client_order_id: str, *, quantity: float | None = None, limit_price: float | None = None, stop_price: float | None = None) -> Order:
        """Amend at the venue that holds the order."""
        return self._venue_of(client_order_id).replace(client_order_id, quantity=quantity, limit_price=limit_price, stop_price=stop_price)

    def get_order(self, client_order_id: str) -> Order:
        """Return the order from the venue that holds it."""
        return self._venue_of(client_order_id).get_order(client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return open orders of every venue (each order's ``venue`` says where)."""
        return [o for st in self.venues.values() for o in st.broker.open_orders(symbol)]

    def fills(self, since_client_order_id: str | None = None, *, since: datetime | None = None) -> list[Fill]:
        """Return fills of every venue, oldest first."""
        return sorted((f for st in self.venues.values() for f in st.broker.fills(since_client_order_id, since=since)), key=lambda f: f.ts)

    def positions(self) -> list[Position]:
        """Return positions of every venue (not netted: venues hold them separately)."""
        return [p for st in self.venues.values() for p in st.broker.positions()]

    def balances(self) -> list[Balance]:
        """Return balances of every venue."""
        return [b for st in self.venues.values() for b in st.broker.balances()]
