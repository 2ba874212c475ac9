"""Rate limiting and retries shared by the venue adapters.

Only :class:`~core.brokers.base.RetryableBrokerError` is ever retried (timeouts,
429 with its ``Retry-After``, 5xx); rejects and every other
:class:`~core.brokers.base.BrokerError` propagate at once. A submit that failed
with a retryable error may still have reached the venue, so
:func:`submit_idempotent` looks the order up by its client ID before it sends it
again: a retry never doubles an order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from core.brokers.base import OrderNotFound, RetryableBrokerError
from core.domain import Order

log = logging.getLogger("core.brokers.retry")
T = TypeVar("T")


class VenueUnavailable(RetryableBrokerError):
    """The request never reached the venue (connection refused, DNS): nothing can have been placed."""


class OrderStateUnknown(RetryableBrokerError):
    """A submit may or may not have reached the venue and the venue could not be asked.

    The order must be left for reconciliation; never resubmit it elsewhere.
    """


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a retryable call.

    The ``n``-th retry waits ``min(max_delay, base_delay * factor ** (n - 1))``
    seconds, or the venue's ``Retry-After`` when that is longer (capped at
    ``max_retry_after``). No jitter: one process talks to each venue.
    """

    attempts: int = 4
    base_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """Return the wait before retry ``retry_number`` (1-based)."""
        backoff = min(self.max_delay, self.base_delay * self.factor ** (retry_number - 1))
        if retry_after is not None and retry_after > 0:
            return max(backoff, min(retry_after, self.max_retry_after))
        return backoff


class TokenBucket:
    """A token bucket: ``rate`` requests per second on average, bursts up to ``capacity``.

    ``acquire`` blocks (through the injected ``sleep``) until a token is free.
    Thread-safe. ``monotonic`` and ``sleep`` are injectable so tests need no wall time.
    """

    def __init__(self, rate: float, capacity: float | None = None, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive requests per second, got {rate}")
        self.rate = float(rate)
        self.capacity = float(capacity if capacity is not None else max(1.0, rate))
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = self.capacity
        self._stamp = monotonic()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def acquire(self, cost: float = 1.0) -> float:
        """Take ``cost`` tokens, waiting as needed; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                if self._tokens >= cost:
                    self._tokens -= cost
                    return waited
                wait = (cost - self._tokens) / self.rate
            self._sleep(wait)
            waited += wait


def call_with_retry(fn: Callable[[], T], policy: RetryPolicy, *, what: str = "call", sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``fn``; retry it on :class:`RetryableBrokerError` only, with backoff.

    Use this for reads, cancels and other calls that are safe to repeat; use
    :func:`submit_idempotent` for submits.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except RetryableBrokerError as exc:
            if attempt == policy.attempts:
                raise
            wait = policy.delay(attempt, exc.retry_after)
            log.warning("%s failed (%s); retry %d/%d in %.2fs", what, exc, attempt, policy.attempts - 1, wait)
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def submit_idempotent(order: Order, send: Callable[[Order], Order], lookup: Callable[[str], Order], policy: RetryPolicy, *,
                      sleep: Callable[[float], None] = time.sleep, check_first: bool = False) -> Order:
    """Send ``order`` at most once per client ID, retrying only retryable failures.

    After any retryable failure the venue is asked for the order by client ID
    (with the same policy); if it is there, that state is returned and nothing is
    resent. Only a confirmed :class:`OrderNotFound` allows another send.

    ``check_first`` asks the venue before the first send too: needed where the
    venue itself accepts a reused client ID (Binance once the first order is
    closed, Kite tags), so a repeated submit (a restart, a caller retry) returns
    the existing order instead of placing a second one. If that check cannot be
    answered, the error propagates and nothing is sent.

    Raises
    ------
    VenueUnavailable
        When every attempt failed before reaching the venue (safe to route elsewhere).
    OrderStateUnknown
        When a send may have reached the venue but the lookup kept failing.
    OrderRejected
        Straight from ``send``; never retried.
    """
    if check_first:
        try:
            found = call_with_retry(lambda: lookup(order.client_order_id), policy, what=f"check {order.client_order_id}", sleep=sleep)
            log.info("order %s already exists at the venue; not sending it again", order.client_order_id)
            return found
        except OrderNotFound:
            pass
    maybe_sent = False
    last: RetryableBrokerError | None = None
    for attempt in range(1, policy.attempts + 1):
        if attempt > 1:
            sleep(policy.delay(attempt - 1, last.retry_after if last else None))
            if maybe_sent:
                try:
                    found = call_with_retry(lambda: lookup(order.client_order_id), policy, what=f"lookup {order.client_order_id}", sleep=sleep)
                    log.info("order %s was placed despite the error; not resending", order.client_order_id)
                    return found
                except OrderNotFound:
                    pass
                except RetryableBrokerError as exc:
                    raise OrderStateUnknown(
                        f"order {order.client_order_id} may have been placed but the venue cannot be asked ({exc}); "
                        "it will be settled by reconciliation"
                    ) from exc
        try:
            return send(order)
        except RetryableBrokerError as exc:
            last = exc
            # A refused connection cannot have placed anything; any other failure might have.
            maybe_sent = maybe_sent or not isinstance(exc, VenueUnavailable)
            log.warning("submit %s failed (%s), attempt %d/%d", order.client_order_id, exc, attempt, policy.attempts)
    assert last is not None
    if maybe_sent:
        try:
            return call_with_retry(lambda: lookup(order.client_order_id), policy, what=f"lookup {order.client_order_id}", sleep=sleep)
        except OrderNotFound:
            # Confirmed absent: the venue took nothing, so routing elsewhere is safe.
            raise VenueUnavailable(f"order {order.client_order_id} not placed after {policy.attempts} attempts: {last}") from last
        except RetryableBrokerError as exc:
            raise OrderStateUnknown(f"order {order.client_order_id} may have been placed; the venue cannot be asked ({exc})") from exc
    raise last
