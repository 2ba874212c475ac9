"""Token bucket, backoff and the submit rule (look up before resend), with hand-computed expectations and no wall time."""

from __future__ import annotations

import pytest

from core.brokers.base import OrderNotFound, OrderRejected, RetryableBrokerError
from core.brokers.retry import OrderStateUnknown, RetryPolicy, TokenBucket, VenueUnavailable, call_with_retry, submit_idempotent
from core.domain import Order, OrderStatus, Side


class FakeTime:
    """A monotonic clock and a sleep that only advances it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_token_bucket_allows_a_burst_then_paces_at_the_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(rate=2.0, capacity=3.0, monotonic=t.monotonic, sleep=t.sleep)
    waits = [bucket.acquire() for _ in range(5)]
    # 3 tokens at once; then each token takes 1/2 s to refill.
    assert waits == [0.0, 0.0, 0.0, pytest.approx(0.5), pytest.approx(0.5)]
    t.now += 10.0  # idle: refills to capacity, not beyond
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.acquire() == pytest.approx(0.5)


def test_token_bucket_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0)


def test_backoff_doubles_to_a_cap_and_honours_retry_after() -> None:
    p = RetryPolicy(base_delay=0.5, factor=2.0, max_delay=3.0, max_retry_after=10.0)
    assert [p.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert p.delay(1, retry_after=4.0) == 4.0  # the venue asked for longer
    assert p.delay(3, retry_after=0.1) == 2.0  # never shorter than our own backoff
    assert p.delay(1, retry_after=120.0) == 10.0  # capped


def test_call_with_retry_retries_only_retryable_errors() -> None:
    t = FakeTime()
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RetryableBrokerError("503", retry_after=1.5)
        return "ok"

    assert call_with_retry(flaky, RetryPolicy(base_delay=0.5), sleep=t.sleep) == "ok"
    assert t.sleeps == [1.5, 1.5]

    def rejected() -> str:
        calls.append(1)
        raise OrderRejected("bad price")

    calls.clear()
    with pytest.raises(OrderRejected):
        call_with_retry(rejected, RetryPolicy(), sleep=t.sleep)
    assert len(calls) == 1


class Venue:
    """A scripted venue: each send outcome in turn; ``landed`` says whether a failed send placed the order."""

    def __init__(self, outcomes: list[tuple[str, bool]], lookup_fails: int = 0) -> None:
        self.outcomes = outcomes
        self.book: dict[str, Order] = {}
        self.sends = 0
        self.lookups = 0
        self.lookup_fails = lookup_fails

    def send(self, order: Order) -> Order:
        self.sends += 1
        kind, landed = self.outcomes.pop(0) if self.outcomes else ("ok", True)
        if landed:
            assert order.client_order_id not in self.book, "duplicate order"
            self.book[order.client_order_id] = order.evolve(status=OrderStatus.ACCEPTED)
        if kind == "ok":
            return self.book[order.client_order_id]
        if kind == "refused":
            raise VenueUnavailable("connection refused")
        raise RetryableBrokerError(kind)

    def lookup(self, cid: str) -> Order:
        self.lookups += 1
        if self.lookup_fails:
            self.lookup_fails -= 1
            raise RetryableBrokerError("lookup 500")
        if cid not in self.book:
            raise OrderNotFound(cid)
        return self.book[cid]


ORDER = Order("c1", "AAPL", Side.BUY, 1)
POLICY = RetryPolicy(attempts=3, base_delay=0.1)


def test_timeout_after_landing_is_found_not_resent() -> None:
    v = Venue([("timeout", True)])
    got = submit_idempotent(ORDER, v.send, v.lookup, POLICY, sleep=FakeTime().sleep)
    assert got.status is OrderStatus.ACCEPTED and v.sends == 1 and len(v.book) == 1


def test_timeout_before_landing_is_resent_once_after_a_confirmed_miss() -> None:
    v = Venue([("timeout", False)])
    submit_idempotent(ORDER, v.send, v.lookup, POLICY, sleep=FakeTime().sleep)
    assert (v.sends, v.lookups, len(v.book)) == (2, 1, 1)


def test_refused_connections_never_need_a_lookup() -> None:
    v = Venue([("refused", False), ("refused", False)])
    submit_idempotent(ORDER, v.send, v.lookup, POLICY, sleep=FakeTime().sleep)
    assert (v.sends, v.lookups, len(v.book)) == (3, 0, 1)


def test_all_refused_is_venue_unavailable() -> None:
    v = Venue([("refused", False)] * 3)
    with pytest.raises(VenueUnavailable):
        submit_idempotent(ORDER, v.send, v.lookup, POLICY, sleep=FakeTime().sleep)
    assert v.book == {}


def test_all_failing_but_confirmed_absent_is_venue_unavailable() -> None:
    v = Venue([("500", False)] * 3)
    with pytest.raises(VenueUnavailable, match="not placed"):
        submit_idempotent(ORDER, v.send, v.lookup, POLICY, sleep=FakeTime().sleep)
    assert v.book == {} and v.sends == 3


def test_lookup_that_cannot_answer_leaves_state_unknown() -> None:
    v = Venue([("timeout", True)], lookup_fails=99)
    with pytest.raises(OrderStateUnknown):
        submit_idempotent(ORDER, v.send, v.lookup, POLICY, sleep=FakeTime().sleep)
    assert v.sends == 1 and len(v.book) == 1  # never resent blind


def test_reject_propagates_without_retry() -> None:
    def send(order: Order) -> Order:
        raise OrderRejected("lot size")

    with pytest.raises(OrderRejected):
        submit_idempotent(ORDER, send, lambda cid: ORDER, POLICY, sleep=FakeTime().sleep)


def test_check_first_returns_an_existing_order_without_sending() -> None:
    v = Venue([])
    v.book["c1"] = ORDER.evolve(status=OrderStatus.FILLED)
    got = submit_idempotent(ORDER, v.send, v.lookup, POLICY, sleep=FakeTime().sleep, check_first=True)
    assert got.status is OrderStatus.FILLED and v.sends == 0


def test_check_first_that_cannot_be_answered_sends_nothing() -> None:
    v = Venue([], lookup_fails=99)
    with pytest.raises(RetryableBrokerError):
        submit_idempotent(ORDER, v.send, v.lookup, POLICY, sleep=FakeTime().sleep, check_first=True)
    assert v.sends == 0
