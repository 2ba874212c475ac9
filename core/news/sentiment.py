"""Headline sentiment: a finance-aware VADER scorer (default) and an optional local FinBERT.

Both return a :class:`Sentiment` with a score in [-1, 1] (positive is good news
for the asset) and a label ``positive``, ``neutral`` or ``negative``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.news.lexicon import PHRASES, finance_lexicon
from core.news.model import NewsError, NewsItem

log = logging.getLogger(__name__)

LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True, slots=True)
class Sentiment:
    """A score in [-1, 1] and its label."""

    score: float
    label: str


class Scorer(Protocol):
    """Anything that scores headlines."""

    name: str

    def score(self, text: str) -> Sentiment: ...


def label_for(score: float, threshold: float = 0.05) -> str:
    """Return the label of ``score``: VADER's convention, ``|score| < threshold`` is neutral."""
    if score >= threshold:
        return "positive"
    if score <= -threshold:
        return "negative"
    return "neutral"


class LexiconScorer:
    """VADER with its lexicon extended by finance terms (:mod:`core.news.lexicon`).

    Parameters
    ----------
    extra
        More ``word -> valence`` entries (VADER scale, -4 .. 4); phrases may contain spaces.
    threshold
        ``|compound|`` below this is labelled neutral (VADER's documented 0.05).
    finance
        False gives plain VADER (the benchmark's reference).
    """

    def __init__(self, extra: Mapping[str, float] | None = None, threshold: float = 0.05, finance: bool = True) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.threshold = threshold
        self.finance = finance
        self.name = "lexicon" if finance else "vader"
        self._vader = SentimentIntensityAnalyzer()
        phrases = dict(PHRASES) if finance else {}
        if finance:
            self._vader.lexicon.update(finance_lexicon())
        for key, value in (extra or {}).items():
            if " " in key.strip():
                phrases[key.strip().lower()] = value
            self._vader.lexicon[key.strip().lower().replace(" ", "_")] = float(value)
        # Longest phrase first so "files for bankruptcy" wins over "bankruptcy".
        self._phrase_re = (
            re.compile(r"(?<!\w)(" + "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True)) + r")(?!\w)", re.IGNORECASE)
            if phrases else None
        )

    def _prepare(self, text: str) -> str:
        if self._phrase_re is None:
            return text
        return self._phrase_re.sub(lambda m: m.group(0).replace(" ", "_"), text)

    def score(self, text: str) -> Sentiment:
        """Return the sentiment of one headline."""
        compound = float(self._vader.polarity_scores(self._prepare(text or ""))["compound"])
        return Sentiment(round(compound, 4), label_for(compound, self.threshold))


class FinBertScorer:
    """A FinBERT-style sequence classifier loaded from a local directory, never downloaded.

    The score is ``p(positive) - p(negative)``; the label is the most probable class.
    """

    name = "finbert"

    def __init__(self, model_dir: str | Path, batch_size: int = 32) -> None:
        # Belt and braces: never let the hub client fetch anything at run time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from transformers import pipeline
        except ImportError as exc:
            raise NewsError("the FinBERT scorer needs the 'transformers' package: pip install it, or set news.scorer: lexicon") from exc
        self.batch_size = batch_size
        path = Path(model_dir)
        if not (path / "config.json").exists():
            raise NewsError(f"no model in {path}: point news.sentiment_model at a local FinBERT directory (config.json, weights, tokenizer)")
        # The label names come from the model's config (FinBERT: positive / negative / neutral).
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model = AutoModelForSequenceClassification.from_pretrained(str(path), local_files_only=True).eval()
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self._pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, top_k=None)

    def score(self, text: str) -> Sentiment:
        """Return the sentiment of one headline."""
        return self.score_batch([text])[0]

    def score_batch(self, texts: list[str]) -> list[Sentiment]:
        """Return the sentiment of many headlines, tokenised and run ``batch_size`` at a time."""
        raw = self._pipe([t or "" for t in texts], truncation=True, batch_size=self.batch_size)
        return [self._sentiment(rows) for rows in raw]

    @staticmethod
    def _sentiment(rows: list[dict]) -> Sentiment:
        probs = {str(r["label"]).lower(): float(r["score"]) for r in rows}
        value = min(max(probs.get("positive", 0.0) - probs.get("negative", 0.0), -1.0), 1.0)
        label = max(probs, key=probs.get) if probs else "neutral"
        return Sentiment(round(value, 4), label if label in LABELS else label_for(value))


def make_scorer(kind: str = "lexicon", model_dir: str | None = None, batch_size: int = 32) -> Scorer:
    """Return the configured scorer; FinBERT falls back to the lexicon (logged) when it cannot load."""
    if kind == "finbert":
        if not model_dir:
            log.warning("news.scorer is 'finbert' but news.sentiment_model is not set: using the lexicon scorer")
        else:
            try:
                return FinBertScorer(model_dir, batch_size)
            except NewsError as exc:
                log.warning("%s; using the lexicon scorer", exc)
    return LexiconScorer()


def score_items(items: Iterable[NewsItem], scorer: Scorer) -> list[NewsItem]:
    """Return ``items`` with sentiment and label filled in where missing (in batches when the scorer has ``score_batch``)."""
    items = list(items)
    todo = [i for i, item in enumerate(items) if item.sentiment is None]
    batch = getattr(scorer, "score_batch", None)
    scores = batch([items[i].title for i in todo]) if batch is not None and todo else [scorer.score(items[i].title) for i in todo]
    for i, s in zip(todo, scores, strict=True):
        items[i] = items[i].with_(sentiment=s.score, label=s.label)
    return items
