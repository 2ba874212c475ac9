"""``python -m core news ...`` as a user runs it, and the news services facade."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from core import services

ROOT = Path(__file__).resolve().parents[2]


def _cli(tmp_path, *args, **env):
    base = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "APP__LOG__DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, env={**base, **env}, timeout=120)


def test_fetch_then_list_by_symbol_as_json(tmp_path):
    r = _cli(tmp_path, "news", "fetch", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"fetched": {"bundled": 269}, "unique": 269, "inserted": 269, "updated": 0, "errors": []}
    r = _cli(tmp_path, "news", "list", "--symbol", "IBM", "--limit", "3", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [x["title"] for x in rows] == [
        "IBM abandons its 2015 profit target and pays $1.5 billion to shed its chip unit",
        "IBM to acquire SoftLayer Technologies",
        "IBM misses first-quarter estimates; shares fall after hours",
    ]
    assert rows[2]["published"] == "2013-04-19T03:59:00+00:00" and rows[2]["label"] == "negative" and "IBM" in rows[2]["symbols"]


def test_fetch_from_an_unconfigured_source_is_a_one_line_error(tmp_path):
    r = _cli(tmp_path, "news", "fetch", "--source", "rss")
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if not line.startswith("note: ")]  # a new store is announced on a note line
    assert errors == ["error: no RSS feeds configured: set news.rss_feeds in config.yaml (a list of feed URLs)"]


def test_fetch_with_a_failing_api_stores_the_rest_and_exits_1_without_leaking_the_key(tmp_path):
    key = "nk-0123456789abcdef"
    r = _cli(tmp_path, "news", "fetch", "--source", "bundled", "--source", "newsapi", "--symbol", "AAPL",
             APP__NEWS__NEWSAPI_KEY=key, APP__NEWS__NEWSAPI_BASE="http://127.0.0.1:9", APP__NEWS__HTTP_TIMEOUT="2")
    assert r.returncode == 1
    assert "stored 269 new" in r.stdout
    assert "warning: newsapi AAPL: cannot reach 127.0.0.1:9 (ConnectionError)" in r.stderr
    assert key not in r.stdout + r.stderr + "".join(p.read_text() for p in tmp_path.glob("*.log"))


def test_list_loads_the_bundled_set_when_empty_and_score_works(tmp_path):
    r = _cli(tmp_path, "news", "list", "--symbol", "BTC-USD", "--limit", "1")
    assert r.returncode == 0, r.stderr
    assert "Bitcoin plunges 17% in a weekend selloff" in r.stdout
    r = _cli(tmp_path, "news", "score", "Apple misses estimates; shares fall", "--json")
    out = json.loads(r.stdout)
    assert out["label"] == "negative" and -1 <= out["score"] < 0


def test_services_news_features_on_bundled_bars(ctx):
    bars = services.load_bars("AAPL")
    f = services.news_features(bars.index, "AAPL")
    assert list(f.columns) == ["news_count", "news_sentiment", "news_sentiment_ewm"] and f.index.equals(bars.index)
    # Jobs' resignation (2011-08-24, published 2011-08-25 03:59 UTC) shows at the first bar opening after it.
    assert f.loc["2011-08-25", "news_count"].item() == 0
    assert f.loc["2011-08-26", "news_count"].item() >= 1 and f.loc["2011-08-26", "news_sentiment"].item() < 0
    assert pd.api.types.is_float_dtype(f["news_count"])
