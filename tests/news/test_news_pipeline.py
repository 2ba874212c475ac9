"""Dedupe, symbol tagging, storage (SQLite and PostgreSQL) and a whole collection run."""

from datetime import UTC, datetime, timedelta

import pytest

from core.clock import FixedClock
from core.news import LexiconScorer, NewsRepo, SymbolTagger, collect, dedupe, item_id, make_item
from core.news.fetchers import BundledFetcher, FetchResult
from core.store import Store

T = datetime(2024, 1, 2, 12, tzinfo=UTC)


def _item(title, when=T, source="Reuters", url=None, symbols=()):
    return make_item(title, when, when + timedelta(minutes=5), source, url=url, symbols=symbols)


# -- dedupe --------------------------------------------------------------------------------------


def test_same_story_from_several_sources_becomes_one_item():
    items = [
        _item("Apple beats estimates as iPhone sales climb - Reuters", T + timedelta(hours=1), "Reuters", symbols=("AAPL",)),
        _item("Apple Beats Estimates as iPhone Sales Climb | CNBC", T, "CNBC", url="https://cnbc/x"),
        _item("Apple beats estimates, as iPhone sales climb", T + timedelta(hours=2), "Yahoo", symbols=("SPX",)),
    ]
    (one,) = dedupe(items)
    assert one.published == T  # earliest report
    assert one.source == "CNBC, Reuters, Yahoo"
    assert set(one.symbols) == {"AAPL", "SPX"} and one.url == "https://cnbc/x"
    assert one.id == item_id("Apple beats estimates as iPhone sales climb", T)


def test_near_duplicates_merge_but_different_stories_do_not():
    a = _item("Microsoft to buy Skype for $8.5 billion in cash")
    b = _item("Microsoft to buy Skype for $8.5 billion", T + timedelta(hours=3))  # 6 of 7 words shared
    c = _item("Microsoft to buy Nokia phone unit for $7.2 billion", T + timedelta(hours=4))
    d = _item("Microsoft to buy Skype for $8.5 billion in cash", T + timedelta(days=10))  # same words, but days later
    out = dedupe([a, b, c, d])
    assert [o.title for o in out] == [a.title, c.title, d.title]


def test_same_url_is_the_same_story():
    out = dedupe([_item("Headline one", url="https://x/1"), _item("A rewritten headline", url="https://x/1")])
    assert len(out) == 1


# -- tagging -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("Apple's iPhone sales slow", ("AAPL",)),
        ("$MSFT and IBM rally", ("MSFT", "IBM")),
        ("Alphabet unit Google sued", ("GOOG",)),
        ("Bitcoin tops $45,000; BTC dominance rises", ("BTC-USD",)),
        ("Fed holds rates; S&P 500 edges up", ("SPX",)),
        ("Pineapple prices fed up consumers", ()),  # no 'Apple' inside a word, no 'fed' in lower case
        ("AAPLX fund closes", ()),
    ],
)
def test_tagger_matches_tickers_and_company_names(text, tags):
    tagger = SymbolTagger(["AAPL", "MSFT", "IBM", "GOOG", "BTC-USD", "SPX"])
    assert tagger.tags(text) == tags


def test_alias_map_extends_the_defaults():
    tagger = SymbolTagger(["RELIANCE"], aliases={"RELIANCE": ["Reliance Industries", "RIL"]})
    assert tagger.tags("RIL shares jump after Jio deal") == ("RELIANCE",)
    assert tagger.tag(_item("Reliance Industries results due", symbols=("NIFTY",))).symbols == ("NIFTY", "RELIANCE")


# -- storage -------------------------------------------------------------------------------------


def test_repo_roundtrip_merges_instead_of_duplicating(db_url):
    repo = NewsRepo(Store(db_url, clock=FixedClock(T)))
    a = _item("IBM shares slide", symbols=("IBM",)).with_(sentiment=-0.4, label="negative")
    assert repo.save([a, _item("Bitcoin tops $45,000", T - timedelta(days=1), symbols=("BTC-USD",))]) == (2, 0)
    again = _item("IBM shares slide - CNBC", T - timedelta(hours=1), source="CNBC", symbols=("SPX",))
    assert repo.save([again]) == (0, 1)
    assert repo.save([again]) == (0, 0)
    assert repo.count() == 2
    (stored,) = repo.list("IBM")
    assert stored.published == T - timedelta(hours=1) and stored.published.tzinfo is not None
    assert stored.symbols == ("IBM", "SPX") and stored.source == "Reuters, CNBC"
    assert stored.sentiment == -0.4 and stored.label == "negative"
    assert [i.title for i in repo.list("SPX")] == ["IBM shares slide"]
    assert [i.title for i in repo.list()] == ["IBM shares slide", "Bitcoin tops $45,000"]
    assert repo.list("BTC", limit=None) == []  # whole-symbol match only
    assert [i.title for i in repo.list(since=T - timedelta(hours=2))] == ["IBM shares slide"]


# -- a collection run ----------------------------------------------------------------------------


class _Fixed:
    def __init__(self, name, items=(), errors=(), boom=False):
        self.name, self._items, self._errors, self._boom = name, list(items), list(errors), boom

    def fetch(self, since, until):
        if self._boom:
            raise RuntimeError("parser bug")
        return FetchResult(self.name, list(self._items), list(self._errors))


def test_collect_tags_scores_dedupes_and_loses_nothing_on_failures(ctx):
    repo = NewsRepo(ctx.store)
    good = _Fixed("rss", [_item("Apple shares plunge after warning - Reuters", T - timedelta(hours=3)),
                          _item("Apple shares plunge after warning | MarketWatch", T - timedelta(hours=2), source="MarketWatch")])
    partial = _Fixed("finnhub", [_item("Microsoft beats estimates", T - timedelta(hours=1), source="Yahoo")], ["finnhub IBM: HTTP 429: limit"])
    broken = _Fixed("newsapi", boom=True)
    report = collect([good, broken, partial], repo, ctx.clock, tagger=SymbolTagger(["AAPL", "MSFT"]), scorer=LexiconScorer())
    assert report.fetched == {"rss": 2, "finnhub": 1}
    assert report.inserted == 2 and report.unique == 2
    assert report.errors == ["newsapi: unexpected failure (RuntimeError: parser bug)", "finnhub IBM: HTTP 429: limit"]
    apple = repo.list("AAPL")[0]
    assert apple.label == "negative" and apple.sentiment < 0 and apple.source == "Reuters, MarketWatch"
    # The same story arriving later from another source merges into the stored row.
    later = _Fixed("rss", [_item("Apple shares plunge after warning - AP", T - timedelta(hours=4), source="AP")])
    report2 = collect([later], repo, ctx.clock, tagger=SymbolTagger(["AAPL"]), scorer=LexiconScorer())
    assert (report2.inserted, report2.updated) == (0, 1)
    assert repo.count() == 2 and repo.list("AAPL")[0].published == T - timedelta(hours=4)


def test_bundled_headlines_load_once_and_are_tagged(ctx):
    repo = NewsRepo(ctx.store)
    fetcher = BundledFetcher("data/news/headlines.csv", ctx.clock)
    tagger = SymbolTagger(["AAPL", "MSFT", "IBM", "GOOG", "BTC-USD", "SPX"])
    first = collect([fetcher], repo, ctx.clock, tagger=tagger, scorer=LexiconScorer())
    assert first.inserted == 269 and first.errors == []
    second = collect([fetcher], repo, ctx.clock, tagger=tagger, scorer=LexiconScorer())
    assert (second.inserted, second.updated) == (0, 0) and repo.count() == 269
    both = {i.title for i in repo.list("MSFT", limit=None)} & {i.title for i in repo.list("AAPL", limit=None)}
    assert "Apple overtakes Microsoft as the world's most valuable technology company" in both


def test_symbol_filter_treats_like_wildcards_literally(ctx):
    repo = NewsRepo(ctx.store)
    repo.save([_item("Index note", symbols=("A_B",)), _item("Other note", symbols=("AXB", "ZZZ"))])  # "A_B,%" would match "AXB,ZZZ"
    assert [i.title for i in repo.list("A_B")] == ["Index note"]
