"""News APIs: NewsAPI ``/v2/everything``, Finnhub ``company-news``, Alpha Vantage ``NEWS_SENTIMENT``.

Keys travel in headers where the API allows it (NewsAPI, Finnhub) so they never
appear in URLs; Alpha Vantage only takes a query parameter, so every message
built here is masked. One request per symbol: a failing symbol is reported and
the others still count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import requests

from core.clock import Clock
from core.news.fetchers.base import FetchError, FetchResult, guard_secrets, http_error, http_get, json_body, mask_text
from core.news.model import NewsError, make_item

_EASTERN = ZoneInfo("America/New_York")


class _ApiFetcher:
    name = "api"
    key_setting = ""

    def __init__(
        self,
        key: str,
        symbols: Iterable[str],
        clock: Clock,
        base_url: str,
        timeout: float = 10.0,
        aliases: Mapping[str, Iterable[str]] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        if not key:
            raise NewsError(f"{self.name} needs an API key: set {self.key_setting} in the environment or .env")
        self._key = key
        guard_secrets(key)
        self.symbols = [s.upper() for s in symbols]
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.aliases = {k.upper(): list(v) for k, v in (aliases or {}).items()}
        self.session = session or requests.Session()

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(base_url={self.base_url!r}, symbols={self.symbols!r})"

    def fetch(self, since: datetime, until: datetime) -> FetchResult:
        """Return items for every symbol published in [since, until]; failures go to ``errors``."""
        result = FetchResult(self.name)
        for symbol in self.symbols:
            try:
                self._fetch_symbol(symbol, since, until, result)
            except FetchError as exc:
                result.errors.append(mask_text(str(exc), [self._key]))
        return result

    def _fetch_symbol(self, symbol: str, since: datetime, until: datetime, result: FetchResult) -> None:
        raise NotImplementedError

    def _add(self, result: FetchResult, what: str, n: int, **fields: object) -> None:
        try:
            result.items.append(make_item(**fields))  # type: ignore[arg-type]
        except (NewsError, TypeError, ValueError) as exc:
            result.errors.append(f"{what}: article {n + 1} skipped ({exc})")


class NewsApiFetcher(_ApiFetcher):
    """NewsAPI.org ``GET /v2/everything`` with ``q="TICKER" OR "Company"``."""

    name = "newsapi"
    key_setting = "APP__NEWS__NEWSAPI_KEY"

    def _fetch_symbol(self, symbol: str, since: datetime, until: datetime, result: FetchResult) -> None:
        what = f"newsapi {symbol}"
        names = [symbol.split("-")[0], *self.aliases.get(symbol, [])]
        params = {
            "q": " OR ".join(f'"{n}"' for n in dict.fromkeys(names)),
            "from": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "to": until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "language": "en",
            "sortBy": "publishedAt",
            "pageSize": 100,
        }
        response = http_get(self.session, f"{self.base_url}/v2/everything", what=what, params=params,
                            headers={"X-Api-Key": self._key}, timeout=self.timeout, secrets=[self._key])
        body = json_body(what, response)
        if response.status_code >= 400 or body.get("status") != "ok":
            detail = f"{body.get('code', 'error')}: {body.get('message', 'no message')}" if isinstance(body, dict) else str(body)[:120]
            raise http_error(what, response, mask_text(detail, [self._key]), f"check {self.key_setting}")
        now = self.clock.now()
        for n, art in enumerate(body.get("articles") or []):
            published = datetime.fromisoformat(str(art.get("publishedAt", "")).replace("Z", "+00:00")) if art.get("publishedAt") else now
            self._add(result, what, n, title=art.get("title") or "", published=published, fetched=now,
                      source=(art.get("source") or {}).get("name") or "NewsAPI", url=art.get("url"),
                      summary=art.get("description"), symbols=[symbol])


class FinnhubFetcher(_ApiFetcher):
    """Finnhub ``GET /api/v1/company-news`` (North American equities; pairs such as BTC-USD are skipped)."""

    name = "finnhub"
    key_setting = "APP__NEWS__FINNHUB_KEY"

    def _fetch_symbol(self, symbol: str, since: datetime, until: datetime, result: FetchResult) -> None:
        if "-" in symbol:
            return
        what = f"finnhub {symbol}"
        params = {"symbol": symbol, "from": since.astimezone(UTC).date().isoformat(), "to": until.astimezone(UTC).date().isoformat()}
        response = http_get(self.session, f"{self.base_url}/api/v1/company-news", what=what, params=params,
                            headers={"X-Finnhub-Token": self._key}, timeout=self.timeout, secrets=[self._key])
        body = json_body(what, response)
        if response.status_code >= 400 or not isinstance(body, list):
            detail = body.get("error", "unexpected answer") if isinstance(body, dict) else str(body)[:120]
            raise http_error(what, response, mask_text(str(detail), [self._key]), f"check {self.key_setting}")
        now = self.clock.now()
        for n, art in enumerate(body):
            try:
                published = datetime.fromtimestamp(int(art.get("datetime")), tz=UTC)
            except (TypeError, ValueError):
                result.errors.append(f"{what}: article {n + 1} has no valid 'datetime'; skipped")
                continue
            if published < since:  # older than the window; a clock-skewed future stamp is kept
                continue
            related = [s for s in str(art.get("related") or "").split(",") if s.strip()]
            self._add(result, what, n, title=art.get("headline") or "", published=published, fetched=now,
                      source=art.get("source") or "Finnhub", url=art.get("url"), summary=art.get("summary"),
                      symbols=[symbol, *related], finnhub_id=art.get("id"))


class AlphaVantageFetcher(_ApiFetcher):
    """Alpha Vantage ``GET /query?function=NEWS_SENTIMENT``.

    Its ``time_published`` (``YYYYMMDDTHHMMSS``) carries no zone; it is read as
    US Eastern time, which can only make an item later than the truth if the API
    meant UTC, never earlier, so no look-ahead can come from this choice.
    """

    name = "alphavantage"
    key_setting = "APP__NEWS__ALPHAVANTAGE_KEY"

    @staticmethod
    def ticker(symbol: str) -> str:
        """Return Alpha Vantage's ticker form (``BTC-USD`` -> ``CRYPTO:BTC``)."""
        return f"CRYPTO:{symbol.split('-')[0]}" if "-" in symbol else symbol

    def _fetch_symbol(self, symbol: str, since: datetime, until: datetime, result: FetchResult) -> None:
        what = f"alphavantage {symbol}"
        params = {
            "function": "NEWS_SENTIMENT",
            "tickers": self.ticker(symbol),
            "time_from": since.astimezone(_EASTERN).strftime("%Y%m%dT%H%M"),
            "time_to": until.astimezone(_EASTERN).strftime("%Y%m%dT%H%M"),
            "sort": "LATEST",
            "limit": 200,
            "apikey": self._key,
        }
        response = http_get(self.session, f"{self.base_url}/query", what=what, params=params, timeout=self.timeout, secrets=[self._key])
        body = json_body(what, response)
        if response.status_code >= 400:
            raise http_error(what, response, "error", f"check {self.key_setting}")
        if not isinstance(body, dict) or "feed" not in body:
            # Errors and rate limits come back as HTTP 200 with one of these keys.
            keys = ("Error Message", "Information", "Note")
            detail = next((str(body[k]) for k in keys if isinstance(body, dict) and k in body), "answer has no 'feed'")
            retry = isinstance(body, dict) and ("Information" in body or "Note" in body)
            raise FetchError(f"{what}: {mask_text(detail, [self._key])}" + ("; try again later" if retry else ""), retryable=retry)
        now = self.clock.now()
        for n, art in enumerate(body["feed"]):
            try:
                published = datetime.strptime(str(art.get("time_published")), "%Y%m%dT%H%M%S").replace(tzinfo=_EASTERN).astimezone(UTC)
            except ValueError:
                result.errors.append(f"{what}: article {n + 1} has no valid 'time_published'; skipped")
                continue
            tickers = [t.get("ticker", "") for t in art.get("ticker_sentiment") or []]
            mine = [symbol, *(t for t in tickers if t and ":" not in t)]
            self._add(result, what, n, title=art.get("title") or "", published=published, fetched=now,
                      source=art.get("source") or "Alpha Vantage", url=art.get("url"), summary=art.get("summary"),
                      symbols=mine, av_score=art.get("overall_sentiment_score"))
