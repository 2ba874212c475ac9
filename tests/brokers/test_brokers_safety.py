"""Live-trading safety and secrets: the factory refuses live endpoints unless confirmed; no key reaches a log or the database."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from fakes.kits import FAST, SECRETS, make_kit

import core.log
from core.brokers._venue import LiveTradingNotAllowed
from core.brokers.base import BrokerError
from core.brokers.binance import BinanceBroker
from core.brokers.factory import build_broker, build_router, live_allowed
from core.brokers.retry import VenueUnavailable
from core.config import load_settings
from core.domain import Order, OrderType, Side, TimeInForce
from core.services import Context
from core.trading.venue import reconcile_account


def _settings(tmp_path: Path, **over):
    return load_settings(config_file=None, env_file=str(tmp_path / "none.env"), **over)


def _keys() -> dict:
    bk, bs = SECRETS["binance"]
    ak, asec = SECRETS["alpaca"]
    zk, zt, zs = SECRETS["zerodha"]
    return {
        "binance": {"api_key": bk, "api_secret": bs},
        "alpaca": {"api_key": ak, "api_secret": asec},
        "zerodha": {"api_key": zk, "access_token": zt, "api_secret": zs},
    }


def test_defaults_are_testnet_and_paper(tmp_path: Path) -> None:
    s = _settings(tmp_path, brokers=_keys())
    assert not live_allowed(s)
    b = build_broker(s, "binance")
    assert b.exchange.urls["api"]["private"].startswith("https://testnet.binance.vision")
    a = build_broker(s, "alpaca")
    assert a.client._base_url.startswith("https://paper-api.alpaca.markets")


@pytest.mark.parametrize("venue", ["binance", "alpaca", "zerodha"])
def test_live_endpoint_refused_in_paper_mode(tmp_path: Path, venue: str) -> None:
    keys = _keys()
    keys["binance"]["testnet"], keys["alpaca"]["paper"] = False, False
    s = _settings(tmp_path, brokers=keys)
    with pytest.raises(LiveTradingNotAllowed, match="live_confirmed"):
        build_broker(s, venue)


def test_live_needs_mode_live_and_confirmation(tmp_path: Path) -> None:
    keys = _keys()
    keys["binance"]["testnet"] = False
    confirmed = _settings(tmp_path, brokers=keys, mode="live", live_confirmed=True)
    live = build_broker(confirmed, "binance")
    assert live.exchange.urls["api"]["private"].startswith("https://api.binance.com")
    # Settings built around load_settings' own check (e.g. edited in memory) are still refused.
    unconfirmed = confirmed.model_copy(update={"live_confirmed": False})
    with pytest.raises(LiveTradingNotAllowed):
        build_broker(unconfirmed, "binance")
    with pytest.raises(LiveTradingNotAllowed):
        BinanceBroker("k", "s", testnet=False)  # the adapter refuses on its own too


def test_loopback_url_is_never_live_but_other_urls_are(tmp_path: Path) -> None:
    s = _settings(tmp_path, brokers=_keys())
    assert build_broker(s, "zerodha", url="http://127.0.0.1:9").name == "zerodha"
    keys = _keys()
    keys["alpaca"]["paper"] = False
    with pytest.raises(LiveTradingNotAllowed):
        build_broker(_settings(tmp_path, brokers=keys), "alpaca", url="https://proxy.example.com")


def test_missing_key_says_which_variable_to_set(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="APP__BROKERS__ALPACA__API_KEY"):
        build_broker(_settings(tmp_path), "alpaca")
    with pytest.raises(BrokerError, match="unknown broker 'kraken'"):
        build_broker(_settings(tmp_path, brokers=_keys()), "kraken")


def _all_db_text(url: str) -> str:
    engine = sa.create_engine(url)
    parts = []
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            parts += [repr(tuple(row)) for row in conn.execute(sa.text(f'SELECT * FROM "{table}"'))]
    engine.dispose()
    return "\n".join(parts)


def test_no_secret_in_logs_or_database_after_a_full_fake_venue_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       ctx: Context, caplog: pytest.LogCaptureFixture) -> None:
    # Keys come from the environment only, as in production.
    for venue, fields in _keys().items():
        for field, value in fields.items():
            monkeypatch.setenv(f"APP__BROKERS__{venue.upper()}__{field.upper()}", value)
    log_dir = tmp_path / "applogs"
    settings = _settings(tmp_path, store={"database_url": ctx.settings.store.database_url}, log={"dir": str(log_dir), "level": "DEBUG"})
    secrets = [v for fields in _keys().values() for v in fields.values()]
    assert sorted(settings.secret_values()) == sorted(secrets)

    # The app's real logging set-up, pointed at this test's directory.
    monkeypatch.setattr(core.log, "_configured", {})
    before = {n: list(logging.getLogger(n).handlers) for n in ("core", "jobs", "pages")}
    core.log.setup_logging(settings, console=False)
    caplog.set_level(logging.DEBUG)
    kits = {n: make_kit(n) for n in SECRETS}
    try:
        opts = {
            "binance": {"timeout": 0.3, "policy": FAST, "rate_limit_ms": 1, "sleep": lambda s: None},
            "alpaca": {"timeout": 0.3, "policy": FAST, "rate": 1000.0, "burst": 1000.0, "sleep": lambda s: None},
            "zerodha": {"timeout": 0.3, "policy": FAST, "rate": 1000.0, "burst": 1000.0, "sleep": lambda s: None},
        }
        router = build_router(settings, ["binance", "alpaca", "zerodha"], urls={n: k.fake.url for n, k in kits.items()}, options=opts)
        router_name = {"binance": "binance-testnet", "alpaca": "alpaca-paper", "zerodha": "zerodha"}
        for n, k in kits.items():
            sym, tif = k.symbol, k.tif
            pin = {"venue": router_name[n]}
            k.fake.inject("timeout", *k.order_post, delay=0.6)
            k.fake.inject("429", *k.order_post, retry_after=1)
            router.submit(Order(f"{n[:3]}1", sym, Side.BUY, k.qty, time_in_force=tif, tags=pin))
            router.submit(Order(f"{n[:3]}2", sym, Side.BUY, k.qty, OrderType.LIMIT, limit_price=k.below, time_in_force=tif,
                                tags=pin))
            router.cancel(f"{n[:3]}2")
        kits["zerodha"].fake.stop()
        with pytest.raises(VenueUnavailable):
            router.venues["zerodha"].broker.submit(Order("zer3", "INFY", Side.BUY, 1, time_in_force=TimeInForce.DAY))
        for st in router.venues.values():
            if st.broker.name != "zerodha":
                reconcile_account(st.broker, ctx.store)
        logging.getLogger("core.brokers").error("a deliberate traceback", exc_info=BrokerError("boom"))
    finally:
        for k in kits.values():
            k.fake.stop()
        for n, handlers in before.items():
            lg = logging.getLogger(n)
            for h in list(lg.handlers):
                if h not in handlers:
                    lg.removeHandler(h)
                    h.close()

    log_text = "".join(p.read_text() for p in log_dir.glob("app.log*"))
    assert "routed" in log_text and "reconciled" in log_text  # the session really was logged
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("core"))  # our own messages, unmasked by any handler
    everything = "\n".join(r.getMessage() for r in caplog.records)  # client libraries too (ccxt dumps request headers at DEBUG)
    assert "X-MBX-APIKEY" in everything
    db_text = _all_db_text(ctx.settings.database_url)
    assert "bin1" in db_text and "alp1" in db_text  # the session really reached the database
    raw_db = b"".join(p.read_bytes() for p in Path(ctx.settings.database_url.removeprefix("sqlite:///")).parent.glob("test.db*"))
    for secret in secrets:
        assert secret not in log_text
        assert secret not in ours
        assert secret not in everything
        assert secret not in db_text
        assert secret.encode() not in raw_db


LIVE_URLS = {"binance": "https://api.binance.com", "alpaca": "https://api.alpaca.markets", "zerodha": "https://api.kite.trade"}


@pytest.mark.parametrize("venue", ["binance", "alpaca", "zerodha"])
def test_a_live_base_url_is_live_whatever_the_testnet_or_paper_flag(tmp_path: Path, venue: str) -> None:
    # testnet/paper stay at their safe defaults: only the endpoint says "real money"
    keys = _keys()
    keys[venue]["base_url"] = LIVE_URLS[venue]
    with pytest.raises(LiveTradingNotAllowed, match="live_confirmed"):
        build_broker(_settings(tmp_path, brokers=keys), venue)
    confirmed = _settings(tmp_path, brokers=keys, mode="live", live_confirmed=True)
    with pytest.raises(LiveTradingNotAllowed):  # mode: live alone is not enough
        build_broker(confirmed.model_copy(update={"live_confirmed": False}), venue)
    assert build_broker(confirmed, venue).name == venue  # built, and named as the live venue it is


def test_adapters_refuse_a_live_endpoint_on_their_own() -> None:
    from core.brokers.alpaca import AlpacaBroker

    with pytest.raises(LiveTradingNotAllowed):
        BinanceBroker("k", "s", testnet=True, base_url="https://api.binance.com")
    with pytest.raises(LiveTradingNotAllowed):
        AlpacaBroker("k", "s", paper=True, base_url="https://api.alpaca.markets")
    # the venues' own sandboxes and any loopback address are not live
    assert BinanceBroker("k", "s", testnet=True).name == "binance-testnet"
    assert AlpacaBroker("k", "s", paper=True, base_url="https://paper-api.alpaca.markets").name == "alpaca-paper"
    for url in ("http://127.0.0.2:8080", "http://[::1]:8080", "http://localhost:9"):
        BinanceBroker("k", "s", testnet=False, base_url=url)
        AlpacaBroker("k", "s", paper=False, base_url=url)


def test_base_url_settings_reach_the_clients(tmp_path: Path) -> None:
    kit = make_kit("zerodha")
    try:
        keys = _keys()
        keys["zerodha"]["base_url"] = kit.fake.url
        keys["binance"]["base_url"] = "http://127.0.0.1:9"
        keys["alpaca"]["base_url"] = "http://127.0.0.1:9"
        s = _settings(tmp_path, brokers=keys)
        assert build_broker(s, "zerodha", timeout=0.3, policy=FAST).open_orders() == []  # talks to the fake
        assert build_broker(s, "binance").exchange.urls["api"]["private"] == "http://127.0.0.1:9/api/v3"
        assert build_broker(s, "alpaca").client._base_url == "http://127.0.0.1:9"
    finally:
        kit.fake.stop()
