"""Benchmark: headline sentiment scorers on the bundled labelled set (data/news/headlines.csv).

Run ``.venv/bin/python bench/sentiment.py`` (add ``--no-write`` to only print). Reports
accuracy and macro-F1 of the majority-class baseline, plain VADER and the default
finance-aware lexicon scorer (plus FinBERT when ``transformers`` is installed and
``FINBERT_MODEL_DIR`` points at a local model), cross-checked with scikit-learn, and
appends the table to bench/RESULTS.md. See data/news/README.md for how the set was made
and why the figures are optimistic.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score  # noqa: E402

from core.news.evaluate import evaluate, load_labelled, majority_baseline  # noqa: E402
from core.news.sentiment import LABELS, FinBertScorer, LexiconScorer  # noqa: E402


def run(rows: list[dict]) -> list[dict]:
    """Return one result row per scorer."""
    gold = [r["label"] for r in rows]
    base = majority_baseline(rows)
    results = [{"scorer": f"majority baseline (always '{base['label']}')", **base, "per_s": float("nan")}]
    scorers = [("VADER (vaderSentiment 3.3.2, plain)", LexiconScorer(finance=False)), ("finance lexicon (default)", LexiconScorer())]
    model_dir = os.environ.get("FINBERT_MODEL_DIR")
    if model_dir:
        try:
            scorers.append((f"FinBERT ({model_dir})", FinBertScorer(model_dir)))
        except ValueError as exc:
            print(f"FinBERT skipped: {exc}", file=sys.stderr)
    for name, scorer in scorers:
        t0 = time.perf_counter()
        pred = [scorer.score(r["title"]).label for r in rows]
        elapsed = time.perf_counter() - t0
        m = evaluate(gold, pred)
        # Cross-check our metric code against scikit-learn on the same predictions.
        assert abs(m["accuracy"] - accuracy_score(gold, pred)) < 1e-12
        assert abs(m["macro_f1"] - f1_score(gold, pred, average="macro", labels=list(LABELS), zero_division=0)) < 1e-12
        results.append({"scorer": name, **m, "per_s": len(rows) / elapsed, "confusion": confusion_matrix(gold, pred, labels=list(LABELS))})
    return results


def to_markdown(rows: list[dict], results: list[dict]) -> str:
    """Return the results as a Markdown section."""
    counts = Counter(r["label"] for r in rows)
    lines = [
        f"## Headline sentiment ({datetime.now(UTC):%Y-%m-%d}, bench/sentiment.py)",
        "",
        f"Labelled set: data/news/headlines.csv, {len(rows)} headlines "
        f"({counts['positive']} positive, {counts['neutral']} neutral, {counts['negative']} negative); hand-written summaries of real "
        "dated events, one annotator, same author as the finance word list, so scores are optimistic (see data/news/README.md). "
        f"Python {platform.python_version()}, one core.",
        "",
        "| scorer | accuracy | macro-F1 | F1 neg / neu / pos | headlines/s |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        f1 = " / ".join(f"{r['f1'].get(k, 0.0):.3f}" for k in LABELS)
        speed = "–" if r["per_s"] != r["per_s"] else f"{r['per_s']:,.0f}"
        lines.append(f"| {r['scorer']} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {f1} | {speed} |")
    for r in results:
        if "confusion" in r:
            cm = r["confusion"]
            lines += ["", f"Confusion matrix, {r['scorer']} (rows gold, columns predicted; order negative, neutral, positive):", "```"]
            lines += ["  ".join(f"{v:4d}" for v in row) for row in cm]
            lines.append("```")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print it and append it to bench/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to bench/RESULTS.md")
    args = parser.parse_args(argv)
    rows = load_labelled(ROOT / "data/news/headlines.csv")
    text = to_markdown(rows, run(rows))
    print(text)
    if not args.no_write:
        out = ROOT / "bench/RESULTS.md"
        prefix = "" if out.exists() else "# Benchmark results\n\nEach section is appended by the script named in its heading.\n"
        with out.open("a", encoding="utf-8") as fh:
            fh.write(prefix + "\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
