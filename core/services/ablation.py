"""Sentiment ablation: the same walk-forward with and without the news-sentiment features, out-of-sample only."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.features import FeatureConfig
from core.models.metrics import Z95, classification_report
from core.services.context import Context, get_context
from core.services.data import load_bars


def _paired(a: np.ndarray, b: np.ndarray, n_eff: float) -> dict[str, float]:
    d = a - b
    se = float(d.std(ddof=1) / math.sqrt(n_eff)) if d.size > 1 else 0.0
    return {"value": float(d.mean()), "lo": float(d.mean() - Z95 * se), "hi": float(d.mean() + Z95 * se)}


def sentiment_ablation(
    symbols: list[str] | str = ("AAPL", "MSFT"),
    horizon: int = 5,
    *,
    preset: str = "fast",
    members: tuple[str, ...] = ("rf", "gb"),
    n_splits: int = 5,
    n_jobs: int = 1,
    ctx: Context | None = None,
) -> dict[str, Any]:
    """Walk-forward the ensemble twice, without and with the sentiment features, on the same rows and folds.

    Returns both out-of-sample reports (n, n_eff, accuracy, ROC AUC, log loss, Brier, each
    with a 95% CI), the news coverage (share of rows with a headline), and the paired
    per-sample differences (with − without) of log loss and Brier with 95% CIs on the
    effective sample size ``n / horizon``: an interval containing 0 is no evidence either way.
    Nothing is saved to the registry.
    """
    from core.models.cv import PurgedWalkForward
    from core.models.dataset import build_dataset
    from core.models.ensemble import EnsembleClassifier
    from core.models.model_features import with_sentiment
    from core.models.walkforward import walk_forward
    from core.news.features import FEATURE_COLUMNS
    from core.services.models import PRESETS, news_frame

    ctx = ctx or get_context()
    syms = [s.strip().upper() for s in (symbols.split(",") if isinstance(symbols, str) else symbols) if s.strip()]
    if not syms:
        raise ValueError("give at least one symbol, e.g. --symbols AAPL,MSFT")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    bars = {s: load_bars(s, ctx=ctx) for s in syms}
    news = news_frame(ctx)
    base_cfg = FeatureConfig()
    datasets = {"without": build_dataset(bars, horizon, 0.0, base_cfg), "with": build_dataset(bars, horizon, 0.0, with_sentiment(base_cfg), news=news)}
    if not np.array_equal(datasets["without"].t0, datasets["with"].t0):
        raise RuntimeError("the two feature sets produced different rows; the ablation would not be paired")
    model = EnsembleClassifier(method="soft", calibration="sigmoid", gap=horizon * len(syms), n_jobs=1, **{**PRESETS[preset], "members": tuple(members)})
    splitter = PurgedWalkForward(n_splits=n_splits, embargo=horizon)
    out: dict[str, Any] = {"symbols": syms, "horizon": horizon, "preset": preset, "members": list(members), "n_splits": n_splits}
    oof = {}
    for name, data in datasets.items():
        rep = walk_forward(data, model, splitter, overlap=horizon, importance_rows=0, n_jobs=n_jobs)
        p, y = np.asarray(rep["oof"]["p"]), np.asarray(rep["oof"]["y"], dtype=float)
        oof[name] = (p, y)
        out[name] = classification_report(y, p, horizon)
    with_rows = datasets["with"].X[FEATURE_COLUMNS[0]].to_numpy()
    out["news_coverage"] = {"rows": len(with_rows), "rows_with_headline": int((with_rows > 0).sum()), "headlines": len(news)}
    (pw, y), (po, _) = oof["with"], oof["without"]
    pw, po = np.clip(pw, 1e-15, 1 - 1e-15), np.clip(po, 1e-15, 1 - 1e-15)
    ll_w = -(y * np.log(pw) + (1 - y) * np.log(1 - pw))
    ll_o = -(y * np.log(po) + (1 - y) * np.log(1 - po))
    n_eff = max(len(y) / horizon, 1.0)
    out["difference"] = {"log_loss": _paired(ll_w, ll_o, n_eff), "brier": _paired((pw - y) ** 2, (po - y) ** 2, n_eff), "n": len(y), "n_eff": n_eff}
    d = out["difference"]["log_loss"]
    out["verdict"] = ("sentiment lowers the out-of-sample log loss" if d["hi"] < 0 else
                      "sentiment raises the out-of-sample log loss" if d["lo"] > 0 else
                      "no evidence either way: the log-loss difference's 95% interval contains 0")  # fmt: skip
    return out
