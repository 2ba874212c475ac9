"""Fetchers against a local fake HTTP server on 127.0.0.1 speaking each API's real wire format."""

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from core.clock import FixedClock
from core.news.fetchers import AlphaVantageFetcher, FinnhubFetcher, NewsApiFetcher, RssFetcher
from core.news.model import NewsError

NOW = datetime(2024, 1, 3, 12, tzinfo=UTC)
SINCE, UNTIL = NOW - timedelta(days=3), NOW
KEY = "sk-test-9f8e7d6c5b4a"


class FakeServer:
    """Serve canned answers per path; record every request."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                fake.requests.append({"path": parts.path, "query": parse_qs(parts.query), "headers": dict(self.headers)})
                route = fake.routes.get(parts.path)
                status, ctype, body = route(parse_qs(parts.query)) if callable(route) else (route or (404, "text/plain", b"not found"))
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                elif isinstance(body, str):
                    body = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


@pytest.fixture
def clock():
    return FixedClock(NOW)


RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Markets Wire</title><link>http://example.com/</link><description>d</description>
<item><title>Apple beats estimates as iPhone sales climb</title><link>http://example.com/a</link>
<description>&lt;p&gt;Apple Inc. reported &lt;b&gt;record&lt;/b&gt; revenue.&lt;/p&gt;</description>
<pubDate>Tue, 02 Jan 2024 21:30:00 -0500</pubDate></item>
<item><title>IBM shares slide after guidance cut</title><link>http://example.com/b</link><pubDate>Wed, 03 Jan 2024 09:00:00 GMT</pubDate></item>
<item><title>An old story</title><link>http://example.com/c</link><pubDate>Mon, 01 Jan 2018 09:00:00 GMT</pubDate></item>
<item><title>Undated bulletin on Microsoft</title><link>http://example.com/d</link></item>
<item><link>http://example.com/no-title</link><pubDate>Wed, 03 Jan 2024 08:00:00 GMT</pubDate></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Crypto Desk</title><id>urn:x</id><updated>2024-01-03T10:00:00Z</updated>
<entry><title>Bitcoin tops $45,000</title><id>urn:1</id><link href="http://example.org/btc"/>
<updated>2024-01-02T08:15:00+01:00</updated><summary>Bitcoin rose.</summary></entry>
</feed>"""


def test_rss_and_atom_entries_are_normalised_to_utc(server, clock):
    server.routes["/rss"] = (200, "application/rss+xml", RSS)
    server.routes["/atom"] = (200, "application/atom+xml", ATOM)
    result = RssFetcher([f"{server.url}/rss", f"{server.url}/atom"], clock).fetch(SINCE, UNTIL)
    by_title = {i.title: i for i in result.items}
    apple = by_title["Apple beats estimates as iPhone sales climb"]
    assert apple.published == datetime(2024, 1, 3, 2, 30, tzinfo=UTC)  # 21:30 -05:00
    assert apple.source == "Markets Wire" and apple.url == "http://example.com/a"
    assert apple.summary == "Apple Inc. reported record revenue."  # HTML stripped
    assert by_title["Bitcoin tops $45,000"].published == datetime(2024, 1, 2, 7, 15, tzinfo=UTC)
    assert "An old story" not in by_title  # outside the window
    undated = by_title["Undated bulletin on Microsoft"]
    assert undated.published == NOW and undated.extra["published_estimated"] is True
    assert all(i.fetched == NOW for i in result.items)
    assert result.errors == [f"rss {server.url}/rss: entry 5 has no title; skipped"]


def test_malformed_feed_keeps_readable_entries_and_reports_the_error(server, clock):
    broken = RSS.replace("</channel></rss>", "<item><title>Unclosed & broken")  # not well-formed XML
    server.routes["/broken"] = (200, "application/rss+xml", broken)
    server.routes["/garbage"] = (200, "text/html", "<html><body>Service unavailable</body>")
    server.routes["/good"] = (200, "application/atom+xml", ATOM)
    urls = [f"{server.url}/broken", f"{server.url}/garbage", f"{server.url}/good", f"{server.url}/missing"]
    result = RssFetcher(urls, clock).fetch(SINCE, UNTIL)
    titles = {i.title for i in result.items}
    assert "Bitcoin tops $45,000" in titles  # other feeds still count
    assert "IBM shares slide after guidance cut" in titles  # kept from the malformed feed
    joined = "\n".join(result.errors)
    assert "/broken: feed has errors" in joined
    assert "/garbage: not a readable RSS/Atom feed" in joined
    assert "/missing: HTTP 404" in joined


def test_unreachable_feed_is_a_clear_retryable_error(clock):
    result = RssFetcher(["http://127.0.0.1:9/feed"], clock, timeout=2).fetch(SINCE, UNTIL)
    assert result.items == []
    assert result.errors == ["rss http://127.0.0.1:9/feed: cannot reach 127.0.0.1:9 (ConnectionError); check the network or the base URL setting"]


NEWSAPI_OK = {
    "status": "ok",
    "totalResults": 2,
    "articles": [
        {"source": {"id": "reuters", "name": "Reuters"}, "author": "A. Writer", "title": "Apple shares fall after analyst downgrade - Reuters",
         "description": "Apple stock slipped.", "url": "https://www.reuters.com/x", "urlToImage": None,
         "publishedAt": "2024-01-02T14:31:05Z", "content": "Apple stock slipped... [+1234 chars]"},
        {"source": {"id": None, "name": "CNBC"}, "author": None, "title": "[Removed]", "description": None, "url": "https://removed.com",
         "urlToImage": None, "publishedAt": "1970-01-01T00:00:00Z", "content": None},
    ],
}


def test_newsapi_sends_the_key_in_a_header_and_parses_articles(server, clock):
    server.routes["/v2/everything"] = (200, "application/json", NEWSAPI_OK)
    f = NewsApiFetcher(KEY, ["AAPL"], clock, server.url, aliases={"AAPL": ["Apple"]})
    result = f.fetch(SINCE, UNTIL)
    req = server.requests[0]
    assert req["headers"]["X-Api-Key"] == KEY and KEY not in json.dumps(req["query"])
    assert req["query"]["q"] == ['"AAPL" OR "Apple"'] and req["query"]["from"] == ["2023-12-31T12:00:00Z"]
    first = result.items[0]
    assert first.title == "Apple shares fall after analyst downgrade - Reuters"
    assert first.published == datetime(2024, 1, 2, 14, 31, 5, tzinfo=UTC) and first.source == "Reuters"
    assert first.symbols == ("AAPL",)
    assert KEY not in repr(f)


def test_newsapi_error_body_is_reported_with_what_to_do(server, clock):
    server.routes["/v2/everything"] = (401, "application/json",
                                       {"status": "error", "code": "apiKeyInvalid", "message": "Your API key is invalid or incorrect."})
    result = NewsApiFetcher(KEY, ["AAPL", "MSFT"], clock, server.url).fetch(SINCE, UNTIL)
    assert result.items == []
    assert result.errors[0] == ("newsapi AAPL: HTTP 401: apiKeyInvalid: Your API key is invalid or incorrect.; "
                                "check APP__NEWS__NEWSAPI_KEY")
    assert len(result.errors) == 2  # every symbol tried and reported


def test_api_fetcher_without_key_says_which_variable_to_set(clock):
    with pytest.raises(NewsError, match="APP__NEWS__FINNHUB_KEY"):
        FinnhubFetcher("", ["AAPL"], clock, "http://127.0.0.1:9")


FINNHUB_OK = [
    {"category": "company", "datetime": 1704205800, "headline": "Microsoft expands AI partnership", "id": 125432,
     "image": "", "related": "MSFT", "source": "Yahoo", "summary": "Microsoft said...", "url": "https://finnhub.io/api/news?id=1"},
    {"category": "company", "datetime": 1600000000, "headline": "Too old", "id": 1, "image": "", "related": "MSFT",
     "source": "Yahoo", "summary": "", "url": "https://x/old"},
    {"category": "company", "datetime": "not-a-time", "headline": "Bad time", "id": 2, "image": "", "related": "MSFT",
     "source": "Yahoo", "summary": "", "url": "https://x/bad"},
]


def test_finnhub_partial_failure_keeps_the_symbols_that_worked(server, clock):
    def route(query):
        sym = query["symbol"][0]
        if sym == "MSFT":
            return 200, "application/json", FINNHUB_OK
        return 429, "application/json", {"error": "API limit reached. Please try again later. Remaining Limit: 0"}

    server.routes["/api/v1/company-news"] = route
    result = FinnhubFetcher(KEY, ["MSFT", "IBM", "BTC-USD"], clock, server.url).fetch(SINCE, UNTIL)
    assert [i.title for i in result.items] == ["Microsoft expands AI partnership"]
    item = result.items[0]
    assert item.published == datetime.fromtimestamp(1704205800, tz=UTC) and item.symbols == ("MSFT",)
    assert server.requests[0]["headers"]["X-Finnhub-Token"] == KEY
    assert server.requests[0]["query"]["from"] == ["2023-12-31"] and server.requests[0]["query"]["to"] == ["2024-01-03"]
    assert len(server.requests) == 2  # BTC-USD is not a company: skipped
    assert result.errors == [
        "finnhub MSFT: article 3 has no valid 'datetime'; skipped",
        "finnhub IBM: HTTP 429: API limit reached. Please try again later. Remaining Limit: 0; try again later",
    ]


AV_OK = {
    "items": "1",
    "sentiment_score_definition": "x <= -0.35: Bearish; ...",
    "relevance_score_definition": "0 < x <= 1",
    "feed": [
        {"title": "Bitcoin ETF approval odds rise", "url": "https://www.benzinga.com/x", "time_published": "20240102T093000",
         "authors": ["B. Writer"], "summary": "Analysts see...", "banner_image": None, "source": "Benzinga",
         "category_within_source": "News", "source_domain": "www.benzinga.com",
         "topics": [{"topic": "Blockchain", "relevance_score": "1.0"}], "overall_sentiment_score": 0.21,
         "overall_sentiment_label": "Somewhat-Bullish",
         "ticker_sentiment": [{"ticker": "CRYPTO:BTC", "relevance_score": "0.9", "ticker_sentiment_score": "0.3",
                               "ticker_sentiment_label": "Somewhat-Bullish"},
                              {"ticker": "COIN", "relevance_score": "0.2", "ticker_sentiment_score": "0.1", "ticker_sentiment_label": "Neutral"}]},
    ],
}


def test_alphavantage_parses_feed_as_eastern_time_and_maps_crypto_tickers(server, clock):
    server.routes["/query"] = (200, "application/json", AV_OK)
    result = AlphaVantageFetcher(KEY, ["BTC-USD"], clock, server.url).fetch(SINCE, UNTIL)
    q = server.requests[0]["query"]
    assert q["function"] == ["NEWS_SENTIMENT"] and q["tickers"] == ["CRYPTO:BTC"] and q["apikey"] == [KEY]
    (item,) = result.items
    assert item.published == datetime(2024, 1, 2, 14, 30, tzinfo=UTC)  # 09:30 EST
    assert item.symbols == ("BTC-USD", "COIN") and item.source == "Benzinga"
    assert result.errors == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"Error Message": f"Invalid API call. apikey={KEY} is wrong."}, "alphavantage IBM: Invalid API call. apikey=*** is wrong."),
        ({"Information": "We have detected your API key as ***. Our standard API rate limit is 25 requests per day."},
         "alphavantage IBM: We have detected your API key as ***. Our standard API rate limit is 25 requests per day.; try again later"),
    ],
)
def test_alphavantage_errors_arrive_as_http_200_and_are_masked(server, clock, body, expected):
    server.routes["/query"] = (200, "application/json", body)
    result = AlphaVantageFetcher(KEY, ["IBM"], clock, server.url).fetch(SINCE, UNTIL)
    assert result.items == [] and result.errors == [expected]


def test_non_json_answer_is_a_clear_error(server, clock):
    server.routes["/query"] = (502, "text/html", "<html>Bad gateway</html>")
    result = AlphaVantageFetcher(KEY, ["IBM"], clock, server.url).fetch(SINCE, UNTIL)
    assert result.errors == ["alphavantage IBM: the answer is not JSON (HTTP 502, starts with '<html>Bad gateway</html>')"]


def test_api_keys_never_reach_log_lines_even_from_urllib3(server, clock, caplog):
    server.routes["/query"] = (200, "application/json", AV_OK)
    with caplog.at_level(logging.DEBUG):
        AlphaVantageFetcher(KEY, ["BTC-USD"], clock, server.url).fetch(SINCE, UNTIL)
    assert server.requests[0]["query"]["apikey"] == [KEY]  # the key did travel in the query string
    assert any(r.name.startswith("urllib3") and "apikey=***" in r.getMessage() for r in caplog.records)
    assert KEY not in caplog.text


def test_items_stamped_after_now_are_kept_not_dropped(server, clock):
    future = RSS.replace("Wed, 03 Jan 2024 09:00:00 GMT", "Wed, 03 Jan 2024 12:05:00 GMT")  # 5 minutes of clock skew
    server.routes["/rss"] = (200, "application/rss+xml", future)
    result = RssFetcher([f"{server.url}/rss"], clock).fetch(SINCE, UNTIL)
    assert "IBM shares slide after guidance cut" in {i.title for i in result.items}
