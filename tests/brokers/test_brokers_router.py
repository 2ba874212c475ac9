"""Router: eligibility by asset class and capability, the documented score, failover, remembered routes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.kits import Kit, make_kit

from core.brokers.retry import OrderStateUnknown
from core.brokers.router import NoVenue, Router, ScoreWeights, guess_asset_class
from core.domain import AssetClass, Order, OrderStatus, OrderType, Side, TimeInForce


class Tick:
    """A monotonic clock moved by hand (for cool-downs)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def kits() -> Iterator[dict[str, Kit]]:
    ks = {"cheap": make_kit("binance"), "dear": make_kit("binance"), "alpaca": make_kit("alpaca"), "zerodha": make_kit("zerodha")}
    yield ks
    for k in ks.values():
        k.fake.stop()


def crypto_pair(kits: dict[str, Kit], cheap_fee: float = 0.0005, dear_fee: float = 0.001) -> tuple:
    cheap = kits["cheap"].broker(name="bn-cheap", taker_fee=cheap_fee, maker_fee=cheap_fee)
    dear = kits["dear"].broker(name="bn-dear", taker_fee=dear_fee, maker_fee=dear_fee)
    return cheap, dear


def btc(cid: str, **kw) -> Order:
    return Order(cid, "BTC/USDT", Side.BUY, 0.1, **kw)


def test_asset_class_guess() -> None:
    assert [guess_asset_class(s) for s in ("BTC/USDT", "ETHUSDT", "BTC-USD", "AAPL", "INFY")] == [
        AssetClass.CRYPTO, AssetClass.CRYPTO, AssetClass.CRYPTO, AssetClass.EQUITY, AssetClass.EQUITY]


def test_routes_by_asset_class_then_capability(kits: dict[str, Kit]) -> None:
    cheap, _ = crypto_pair(kits)
    alpaca, zerodha = kits["alpaca"].broker(), kits["zerodha"].broker()
    router = Router([zerodha, cheap, alpaca])

    assert router.submit(btc("c1")).venue == "bn-cheap"
    # Both equity venues qualify for a market DAY order; Alpaca wins on fees (0 vs 3 bp).
    assert router.submit(Order("e1", "AAPL", Side.BUY, 1, time_in_force=TimeInForce.DAY)).venue == "alpaca-paper"
    # Only Alpaca has native trailing stops.
    assert [n for n, _ in router.rank(Order("t1", "INFY", Side.SELL, 1, OrderType.TRAILING_STOP, trail_percent=1.0))] == ["alpaca-paper"]
    # The caller may name the asset class in tags; no configured venue trades FX.
    with pytest.raises(NoVenue, match="fx"):
        router.rank(Order("x1", "EURUSD", Side.BUY, 1, tags={"asset_class": "fx"}))


def test_score_is_fees_plus_latency_plus_impact_in_bp(kits: dict[str, Kit]) -> None:
    cheap, dear = crypto_pair(kits)
    router = Router([dear, cheap], liquidity=lambda broker, symbol: 200_000.0, weights=ScoreWeights(latency_weight=0.02, impact_coef=0.1))
    router.record_latency("bn-dear", 50.0)
    order = btc("s1", order_type=OrderType.LIMIT, limit_price=50_000.0)
    # Hand-computed: fee 10 bp + 0.02 * 50 ms + 1e4 * 0.1 * (0.1 * 50,000) / 200,000 = 10 + 1 + 25 = 36 bp.
    assert router.score("bn-dear", order) == pytest.approx(36.0)
    # The cheap venue has no latency yet: the default 100 ms counts: 5 + 2 + 25 = 32 bp.
    assert router.score("bn-cheap", order) == pytest.approx(32.0)
    assert [n for n, _ in router.rank(order)] == ["bn-cheap", "bn-dear"]


def test_lower_fee_wins_with_everything_else_equal(kits: dict[str, Kit]) -> None:
    cheap, dear = crypto_pair(kits)
    router = Router([dear, cheap])
    placed = router.submit(btc("f1"))
    assert placed.venue == "bn-cheap"
    assert len(kits["cheap"].fake.orders) == 1 and kits["dear"].fake.orders == []


def test_measured_latency_decides_between_equal_fees(kits: dict[str, Kit]) -> None:
    a, b = crypto_pair(kits, cheap_fee=0.001, dear_fee=0.001)
    kits["cheap"].fake.latency = 0.25  # "bn-cheap" is now the slow one
    router = Router([a, b])
    measured = router.probe()
    assert measured["bn-cheap"] > measured["bn-dear"]
    assert router.submit(btc("l1")).venue == "bn-dear"


def test_deeper_book_wins_with_equal_fees_and_latency(kits: dict[str, Kit]) -> None:
    a, b = crypto_pair(kits, cheap_fee=0.001, dear_fee=0.001)
    kits["dear"].fake.depth = 50.0  # 100x the other's top of book
    router = Router([a, b], liquidity=lambda broker, symbol: broker.top_of_book_depth(symbol))
    for name in ("bn-cheap", "bn-dear"):
        router.record_latency(name, 20.0)
    assert router.submit(btc("d1", order_type=OrderType.LIMIT, limit_price=50_000.0)).venue == "bn-dear"


def test_fails_over_when_the_best_venue_is_down_and_returns_after_cooldown(kits: dict[str, Kit]) -> None:
    cheap, dear = crypto_pair(kits)
    tick = Tick()
    router = Router([cheap, dear], cooldown=30.0, monotonic=tick)
    kits["cheap"].fake.stop()

    placed = router.submit(btc("fo1"))

    assert placed.venue == "bn-dear" and placed.status is OrderStatus.FILLED
    assert len(kits["dear"].fake.orders) == 1
    assert [n for n, _ in router.rank(btc("x"))] == ["bn-dear"]  # cheap is cooling down
    tick.t += 31
    assert [n for n, _ in router.rank(btc("x"))] == ["bn-cheap", "bn-dear"]


def test_never_fails_over_when_the_first_venue_may_hold_the_order(kits: dict[str, Kit]) -> None:
    cheap, dear = crypto_pair(kits)
    router = Router([cheap, dear])
    cheap.open_orders()  # markets loaded before the faults
    kits["cheap"].fake.inject("timeout", "POST", "/api/v3/order", delay=0.6)
    kits["cheap"].fake.inject("500", "GET", None, times=50, skip=1)  # the check before sending passes

    with pytest.raises(OrderStateUnknown):
        router.submit(btc("u1"))

    assert len(kits["cheap"].fake.orders) == 1 and kits["dear"].fake.orders == []


def test_cancel_goes_to_the_venue_that_holds_the_order_even_after_restart(kits: dict[str, Kit]) -> None:
    cheap, dear = crypto_pair(kits)
    router = Router([dear, cheap])
    router.submit(btc("rt1", order_type=OrderType.LIMIT, limit_price=45_000.0))
    fresh = Router(list(crypto_pair(kits)))  # new process: no remembered routes
    assert fresh.cancel("rt1").status is OrderStatus.CANCELED
    assert fresh.routes == {"rt1": "bn-cheap"}
    assert kits["cheap"].fake.orders[0]["status"] == "CANCELED"
