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


FINBERT_LABELS = ("positive", "negative", "neutral")  # ProsusAI/finbert's config.json id2label order


def _tiny_bert(folder, labels=FINBERT_LABELS, seed=0):
    """Write a 1-layer BERT classifier with ``labels`` (in id order) and a WordPiece vocabulary to ``folder``."""
    folder.mkdir(parents=True)
    vocab = folder.parent / f"{folder.name}-vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *(f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz")]) + "\n")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=64, num_labels=3, id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
    )  # fmt: skip
    torch.manual_seed(seed)
    model = transformers.BertForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model, tokenizer


@pytest.fixture
def tiny_finbert(tmp_path, monkeypatch):
    """A tiny BERT with FinBERT's labels in a local folder."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return _tiny_bert(tmp_path / "finbert")


def _reference(model, tokenizer, text: str, labels=FINBERT_LABELS) -> float:
    """p(positive) - p(negative) straight from the model's logits (no pipeline), the classes found by name in ``labels``."""
    with torch.no_grad():
        logits = model(**tokenizer(text, return_tensors="pt", truncation=True)).logits[0]
    p = torch.softmax(logits, dim=-1)
    return float(p[labels.index("positive")] - p[labels.index("negative")])


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


def test_label_order_is_read_from_the_model_config(tmp_path, monkeypatch):
    """Another model may order its classes differently: the score follows the names in its config, not FinBERT's order."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    labels = ("neutral", "negative", "positive")
    folder, model, tokenizer = _tiny_bert(tmp_path / "other", labels, seed=3)
    scorer = FinBertScorer(folder, batch_size=2)
    texts = ["Apple profit soars to a record", "Microsoft files for bankruptcy", "shares plunge"]
    for text, s in zip(texts, scorer.score_batch(texts), strict=True):
        assert s.score == pytest.approx(_reference(model, tokenizer, text, labels), abs=1e-4)
        with torch.no_grad():
            best = int(model(**tokenizer(text, return_tensors="pt")).logits[0].argmax())
        assert s.label == labels[best]


def test_cli_scores_a_headline_with_the_configured_model_folder_and_names_the_scorer(tiny_finbert, tmp_path):
    """``news.scorer: finbert`` and ``news.sentiment_model`` read by the CLI; a folder that cannot load falls back to the lexicon, visibly."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    folder, model, tokenizer = tiny_finbert
    root = Path(__file__).resolve().parents[2]
    text = "Microsoft files for bankruptcy"

    def score(model_dir):
        env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "APP__LOG__DIR": str(tmp_path),
               "APP__SCHEDULER__EMBEDDED": "false", "APP__NEWS__SCORER": "finbert", "APP__NEWS__SENTIMENT_MODEL": str(model_dir),
               "HF_HUB_OFFLINE": "1"}  # fmt: skip
        r = subprocess.run([sys.executable, "-m", "core", "news", "score", text, "--json"], cwd=root, capture_output=True, text=True, env=env,
                           timeout=300)  # fmt: skip
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    out = score(folder)
    assert out["scorer"] == "finbert" and out["score"] == pytest.approx(_reference(model, tokenizer, text), abs=1e-4)
    assert score(tmp_path / "no-such-folder")["scorer"] == "lexicon"
