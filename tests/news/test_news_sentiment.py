"""The finance-aware lexicon scorer, its evaluation metrics, and the optional FinBERT path."""

from pathlib import Path

import pytest
from sklearn.metrics import accuracy_score, f1_score
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from core.news import LexiconScorer, label_for, make_scorer
from core.news.evaluate import evaluate, load_labelled

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scorer():
    return LexiconScorer()


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("IBM beats estimates and raises outlook", "positive"),
        ("Google misses fourth-quarter estimates; shares slide", "negative"),
        ("Lehman Brothers files for bankruptcy", "negative"),
        ("Bitcoin hits a record high above $66,000", "positive"),
        ("Dow plunges 777 points after the House rejects the bailout plan", "negative"),
        ("Microsoft to buy Skype for $8.5 billion", "neutral"),
        ("Company posts its first quarterly loss", "negative"),
    ],
)
def test_finance_headlines_get_the_label_a_reader_would_give(scorer, text, label):
    assert scorer.score(text).label == label


def test_plain_vader_misses_finance_words_the_extension_catches(scorer):
    # Plain VADER has no entry for "bankruptcy", "beats" or "plunge" and reads "shares" as
    # positive, so it scores these zero or with the wrong sign.
    vader = SentimentIntensityAnalyzer()
    for text, sign in [("Lehman Brothers files for bankruptcy", -1), ("IBM beats estimates", 1), ("Shares plunge", -1)]:
        assert sign * vader.polarity_scores(text)["compound"] <= 0.0
        assert sign * scorer.score(text).score > 0.3


def test_words_neutral_in_finance_do_not_move_the_score(scorer):
    vader = SentimentIntensityAnalyzer()
    text = "Company reports interest income and credit lines"
    assert vader.polarity_scores(text)["compound"] > 0.3  # general VADER reads "interest"/"credit" as positive
    assert scorer.score(text).score == 0.0


def test_score_is_bounded_and_matches_label_thresholds(scorer):
    for text in ["plunge crash bankruptcy fraud collapse " * 5, "record profit soars beats estimates " * 5, "", "the"]:
        s = scorer.score(text)
        assert -1.0 <= s.score <= 1.0
        assert s.label == label_for(s.score)


def test_label_thresholds_follow_vaders_convention():
    assert label_for(0.05) == "positive" and label_for(0.0499) == "neutral"
    assert label_for(-0.05) == "negative" and label_for(-0.0499) == "neutral"


def test_extra_words_and_phrases_are_used():
    s = LexiconScorer(extra={"moonshot": 3.0, "guidance slashed": -3.0})
    assert s.score("A moonshot").label == "positive"
    assert s.score("Guidance slashed again").label == "negative"


def test_metrics_match_scikit_learn():
    gold = ["positive", "negative", "neutral", "neutral", "positive", "negative", "neutral"]
    pred = ["positive", "neutral", "neutral", "positive", "positive", "negative", "negative"]
    m = evaluate(gold, pred)
    assert m["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    assert m["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro"))
    # By hand, F1 = 2TP / (2TP + FP + FN): positive 4/5, negative 2/4, neutral 2/5.
    assert m["f1"] == pytest.approx({"positive": 0.8, "negative": 0.5, "neutral": 0.4})
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 0.4) / 3)


def test_bundled_labelled_set_is_large_enough_and_well_formed():
    rows = load_labelled(ROOT / "data/news/headlines.csv")
    assert len(rows) >= 200
    assert {r["label"] for r in rows} == {"positive", "neutral", "negative"}
    assert all(r["title"] and r["source"] for r in rows)


def test_finbert_without_transformers_or_model_falls_back_to_the_lexicon(tmp_path):
    assert make_scorer("finbert", None).name == "lexicon"
    assert make_scorer("finbert", str(tmp_path)).name == "lexicon"

