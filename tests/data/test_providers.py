"""Remote providers through their real client code paths, with no network."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from core.clock import FixedClock
from core.data import CachedProvider, DataError
from core.data.remote import CcxtProvider, YFinanceProvider
from core.store import Store

DAY_MS = 86_400_000
START_MS = 1_704_067_200_000  # 2024-01-01


class _Binance(BaseHTTPRequestHandler):
    calls: list[str] = []

    def log_message(self, *a):
        pass

    def do_GET(self):
        _Binance.calls.append(self.path)
        from urllib.parse import parse_qs, urlparse

        url = urlparse(self.path)
        if url.path == "/api/v3/exchangeInfo":
            body = {"timezone": "UTC", "serverTime": START_MS, "rateLimits": [], "symbols": [{
                "symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT",
                "baseAssetPrecision": 8, "quotePrecision": 8, "quoteAssetPrecision": 8,
                "orderTypes": ["LIMIT", "MARKET"], "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
                "permissionSets": [["SPOT"]], "permissions": [],
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000", "tickSize": "0.01"},
                    {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000", "stepSize": "0.00001"},
                    {"filterType": "NOTIONAL", "minNotional": "5", "maxNotional": "9000000"},
                ]}]}
        elif url.path == "/api/v3/klines":
            q = parse_qs(url.query)
            since = int(q.get("startTime", [START_MS])[0])
            since = START_MS + -(-(since - START_MS) // DAY_MS) * DAY_MS  # Binance aligns to bar opens
            limit = int(q.get("limit", [500])[0])
            body = []
            for i in range(limit):
                t = since + i * DAY_MS
                if t >= START_MS + 10 * DAY_MS:
                    break
                p = 100 + (t - START_MS) / DAY_MS
                body.append([t, str(p), str(p + 2), str(p - 1), str(p + 1), "5.0", t + DAY_MS - 1, "0", 1, "0", "0", "0"])
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake_binance():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Binance)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Binance.calls = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _binance(base):
    import ccxt

    ex = ccxt.binance({"options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}})

    def rehost(node):
        if isinstance(node, dict):
            return {k: rehost(v) for k, v in node.items()}
        if isinstance(node, str) and node.startswith("http"):
            from urllib.parse import urlparse

            return base + urlparse(node).path
        return node

    ex.urls["api"] = rehost(ex.urls["api"])
    return ex


def test_ccxt_provider_paginates_and_cache_avoids_refetch(fake_binance, sqlite_url):
    provider = CcxtProvider(_binance(fake_binance), page_limit=4)
    cached = CachedProvider(provider, Store(sqlite_url, clock=FixedClock(pd.Timestamp("2024-02-01", tz="UTC").to_pydatetime())))
    start, end = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-10", tz="UTC")
    frame = cached.bars("BTC/USDT", "1d", start, end)
    assert len(frame) == 10
    assert frame["close"].iloc[0] == 101.0 and frame["close"].iloc[-1] == 110.0
    klines = [c for c in _Binance.calls if c.startswith("/api/v3/klines")]
    assert len(klines) == 3  # 4 + 4 + 2 bars
    again = cached.bars("BTC/USDT", "1d", start, end)
    assert len([c for c in _Binance.calls if c.startswith("/api/v3/klines")]) == 3  # served from the store
    pd.testing.assert_frame_equal(again, frame, check_freq=False)


def test_ccxt_provider_dead_port_is_clear_error():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    provider = CcxtProvider(_binance(f"http://127.0.0.1:{port}"))
    provider.exchange.timeout = 2000
    with pytest.raises(DataError, match="binance: cannot fetch BTC/USDT 1d: .*Error"):
        provider.bars("BTC/USDT", "1d", pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-05", tz="UTC"))


def test_yfinance_adapter_normalizes_its_frame_shape():
    # yfinance.download's real output shape: capitalised columns and a 'Date' index.
    idx = pd.DatetimeIndex(pd.date_range("2024-01-02", periods=3, freq="D"), name="Date")
    shaped = pd.DataFrame({"Close": [10.5, 11.0, 11.5], "High": [11, 12, 12], "Low": [10, 10, 11], "Open": [10, 11, 11], "Volume": [1, 2, 3]}, index=idx)
    seen = {}

    def download(symbol, **kw):
        seen.update(kw, symbol=symbol)
        return shaped

    frame = YFinanceProvider(download).bars("MSFT", "1d")
    assert seen["auto_adjust"] is True and seen["interval"] == "1d" and seen["symbol"] == "MSFT"
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"] and frame.index.tz is not None
    with pytest.raises(DataError, match="yfinance returned no data for ZZZ"):
        YFinanceProvider(lambda s, **k: pd.DataFrame()).bars("ZZZ")
