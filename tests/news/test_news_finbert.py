"""The FinBERT path end to end on a tiny BERT built from a config (no download): tokenise, batch, score, store."""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch", reason="FinBERT needs torch (requirements-torch.txt)")
transformers = pytest.importorskip("transformers", reason="FinBERT needs transformers (requirements-torch.txt)")

from core.news import NewsRepo, SymbolTagger, collect, make_scorer  # noqa: E402
from core.news.fetchers import BundledFetcher  # noqa: E402
from core.news.sentiment import FinBertScorer  # noqa: E402

WORDS = ["apple", "profit", "soars", "record", "files", "for", "bankruptcy", "shares", "plunge", "microsoft", "the", "a", "of", "to", "and"]


@pytest.fixture
def tiny_finbert(tmp_path, monkeypatch):
    """Write a 1-layer BERT classifier with FinBERT's labels and a WordPiece vocabulary to a folder."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *(f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz")]) + "\n")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=64, num_labels=3, id2label={0: "positive", 1: "negative", 2: "neutral"},
        label2id={"positive": 0, "negative": 1, "neutral": 2},
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config).eval()
    folder = tmp_path / "finbert"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model, tokenizer


def _reference(model, tokenizer, text: str) -> float:
    """p(positive) - p(negative) straight from the model's logits (no pipeline)."""
    with torch.no_grad():
        logits = model(**tokenizer(text, return_tensors="pt", truncation=True)).logits[0]
    p = torch.softmax(logits, dim=-1)
    return float(p[0] - p[1])


def test_tiny_finbert_scores_batches_within_bounds_and_matches_the_model(tiny_finbert):
    folder, model, tokenizer = tiny_finbert
    scorer = make_scorer("finbert", str(folder), batch_size=4)
    assert isinstance(scorer, FinBertScorer) and scorer.name == "finbert"
    texts = ["Apple profit soars to a record", "Microsoft files for bankruptcy", "shares plunge", "", "zzz unknown words"] * 3
    batch = scorer.score_batch(texts)
    assert len(batch) == len(texts)
    for text, s in zip(texts, batch, strict=True):
        assert -1.0 <= s.score <= 1.0 and s.label in ("positive", "negative", "neutral")
        assert s.score == pytest.approx(_reference(model, tokenizer, text), abs=1e-4)  # rounded to 4 places
    assert scorer.score(texts[0]) == batch[0]  # one at a time gives the same as in a batch (padding does not leak)


def test_finbert_scores_and_stores_collected_headlines(tiny_finbert, ctx):
    folder, model, tokenizer = tiny_finbert
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    repo = NewsRepo(ctx.store)
    scorer = FinBertScorer(folder, batch_size=16)
    report = collect([BundledFetcher("data/news/headlines.csv", ctx.clock)], repo, ctx.clock, tagger=SymbolTagger(["AAPL", "MSFT"]), scorer=scorer)
    assert report.inserted == 269
    stored = repo.list(limit=None)
    assert len(stored) == 269 and all(-1.0 <= i.sentiment <= 1.0 for i in stored)
    for item in stored[:5]:
        assert item.sentiment == pytest.approx(_reference(model, tokenizer, item.title), abs=1e-4)
