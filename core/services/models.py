"""Model services: predict, audit, and what the Models page shows; training is in :mod:`core.services.training`.

``train``, ``PRESETS``, ``models_dir`` and ``news_frame`` are re-exported here, so
``core.services.models.train`` stays the one name callers (and their tests) look up.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd

from core.domain import Regime
from core.features import FeatureConfig
from core.models.registry import ModelArtifact, ModelNotFound, list_runs, load
from core.services.context import Context, get_context
from core.services.data import load_bars
from core.services.headlines import news_frame
from core.services.training import PRESETS, Progress, models_dir, train

__all__ = [
    "PRESETS",
    "Progress",
    "audit",
    "list_models",
    "load_model",
    "model_report",
    "models_dir",
    "news_frame",
    "predict",
    "predict_history",
    "regime_timeline",
    "train",
]

_cache_lock = threading.Lock()


def load_model(model_id: str | None = None, ctx: Context | None = None) -> ModelArtifact:
    """Return the artifact of ``model_id`` (latest when None), cached per process."""
    ctx = ctx or get_context()
    row_id = model_id
    if row_id is None:
        from core.models.registry import get_run

        row_id = get_run(ctx.store).id
    with _cache_lock:
        cache = ctx.extras.setdefault("model_cache", {})
        if row_id not in cache:
            cache[row_id] = load(ctx.store, row_id)
        return cache[row_id]


def _regime_for(artifact: ModelArtifact, symbol: str, bars: pd.DataFrame, ctx: Context) -> Any:
    from core.models.regime import RegimeClassifier

    rc = artifact.regimes.get(symbol)
    if rc is not None:
        return rc
    # A symbol the model was not trained on: fit on a fixed prefix of its bars, once per process,
    # so later bars never change earlier regimes.
    key = (artifact.model_id, symbol)
    with _cache_lock:
        cache = ctx.extras.setdefault("regime_cache", {})
        if key not in cache:
            params = artifact.params.get("regime") or {}
            window = params.get("fit_window", RegimeClassifier().fit_window) or len(bars)
            cache[key] = RegimeClassifier(**params).fit(bars.iloc[:window])
        return cache[key]


def _features(art: ModelArtifact, symbol: str, bars: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """Return the model's feature columns of ``bars`` (with sentiment when the model uses it)."""
    from core.models.model_features import model_features, uses_sentiment

    news = news_frame(ctx) if uses_sentiment(art.feature_config) else None
    return model_features(bars, art.feature_config, symbol.upper(), news)[art.columns]


def _p_up(model: Any, feats: pd.DataFrame, all_rows: bool = False) -> np.ndarray:
    """Return p(up) of the last row (or of every row), giving a sequence member the history it needs."""
    rows = feats if all_rows else feats.iloc[-getattr(model, "context_rows_", 1) :]
    rows = rows[rows.notna().all(axis=1)]  # warm-up rows carry NaN; the last row was checked by the caller
    proba = model.predict_proba(rows.to_numpy(dtype=np.float64))
    return proba[:, list(model.classes_).index(1)]


def predict(symbol: str, *, bars: pd.DataFrame | None = None, model_id: str | None = None, timeframe: str = "1d", ctx: Context | None = None) -> dict:
    """Return the latest ``p_up``, ``regime``, ``model_id`` and the data timestamp ``ts`` of ``symbol``.

    Parameters
    ----------
    symbol
        Symbol to score.
    bars
        Bars up to now (the trading loop's feed); default: the bundled/stored bars.
    model_id
        Model to use (default: the latest).
    """
    ctx = ctx or get_context()
    art = load_model(model_id, ctx)
    if bars is None:
        bars = load_bars(symbol, timeframe=timeframe, ctx=ctx)
    feats = _features(art, symbol, bars, ctx)
    if len(feats) == 0 or feats.iloc[-1].isna().any():
        raise ValueError(f"{symbol}: need at least {art.feature_config.warmup + 1} bars of history to predict, got {len(bars)}")
    p_up = float(_p_up(art.model, feats)[-1])
    # A model trained with regime=False has no regime view (params["regime"] is None).
    regime = _regime_for(art, symbol.upper(), bars, ctx).classify(bars).iloc[-1] if art.params.get("regime") is not None else None
    return {
        "symbol": symbol.upper(), "p_up": p_up, "regime": Regime(regime) if regime is not None else None,
        "model_id": art.model_id, "ts": pd.Timestamp(bars.index[-1]).isoformat(), "horizon": art.horizon,
    }  # fmt: skip


def predict_history(symbol: str, *, bars: pd.DataFrame | None = None, model_id: str | None = None, ctx: Context | None = None) -> pd.DataFrame:
    """Return ``p_up`` and ``regime`` for every bar of ``symbol`` after the warm-up.

    Bars inside the model's training range are in-sample for the model: use
    the walk-forward out-of-sample predictions (``model_report()['oof']``) to judge skill.
    """
    ctx = ctx or get_context()
    art = load_model(model_id, ctx)
    if bars is None:
        bars = load_bars(symbol, ctx=ctx)
    feats = _features(art, symbol, bars, ctx)
    ok = feats.notna().all(axis=1).to_numpy()
    p = np.full(len(bars), np.nan)
    if ok.any():
        p[ok] = _p_up(art.model, feats[ok], all_rows=True)
    out = pd.DataFrame({"p_up": p}, index=bars.index)
    out["regime"] = _regime_for(art, symbol.upper(), bars, ctx).classify(bars)
    return out[ok]


def list_models(limit: int = 50, ctx: Context | None = None) -> list[dict]:
    """Return the newest trained models first (id, created, symbols, range, headline metrics)."""
    ctx = ctx or get_context()
    out = []
    for r in list_runs(ctx.store, limit):
        overall = (r.metrics or {}).get("overall", {})
        out.append({
            "id": r.id, "created": r.created.isoformat(), "kind": r.kind, "symbols": r.symbols.split(","),
            "data_start": r.data_start.isoformat() if r.data_start else None, "data_end": r.data_end.isoformat() if r.data_end else None,
            "horizon": (r.params or {}).get("horizon"), "n": overall.get("n"),
            "roc_auc": (overall.get("roc_auc") or {}).get("value"), "accuracy": (overall.get("accuracy") or {}).get("value"),
            "features_hash": r.features_hash,
        })  # fmt: skip
    return out


def model_report(model_id: str | None = None, ctx: Context | None = None) -> dict:
    """Return the full out-of-sample report of a model: folds, overall, baselines, calibration, importance, OOF predictions."""
    art = load_model(model_id, ctx)
    return {"model_id": art.model_id, "symbols": art.symbols, "horizon": art.horizon, "params": art.params, **art.report}


def regime_timeline(symbol: str, *, bars: pd.DataFrame | None = None, model_id: str | None = None, ctx: Context | None = None) -> pd.DataFrame:
    """Return per-bar close, regime and the rule inputs (turbulence probability, slope, vol, drawdown)."""
    ctx = ctx or get_context()
    art = load_model(model_id, ctx)
    if bars is None:
        bars = load_bars(symbol, ctx=ctx)
    rc = _regime_for(art, symbol.upper(), bars, ctx)
    out = rc.indicators(bars)
    out.insert(0, "close", bars["close"])
    out["regime"] = rc.classify(bars).astype(str)
    return out


def audit(symbol: str = "AAPL", *, model_id: str | None = None, n_points: int = 5, seed: int = 0, ctx: Context | None = None) -> dict:
    """Run the truncation leakage audit on ``symbol``: every feature, the ensemble's p_up, the regime and the forecast exposure scale.

    Uses the given (or latest) model; without any trained model, a tiny
    ensemble and regime classifier are fitted on the first half of the bars so
    the audit still covers the whole pipeline. ``exposure`` holds the audit of the forecast
    VaR, exposure scale and equity of the forecast-scaled book
    (:func:`core.services.exposure.exposure_audit`, ``risk.var_budget_pct`` and ``risk.forecast_model``).
    """
    from core.models.audit import truncation_audit
    from core.models.dataset import build_dataset
    from core.models.ensemble import EnsembleClassifier
    from core.models.model_features import model_features as _model_features
    from core.models.regime import RegimeClassifier

    ctx = ctx or get_context()
    bars = load_bars(symbol, ctx=ctx)
    cfg = FeatureConfig()
    news = None
    try:
        art = load_model(model_id, ctx)
        model, columns, cfg, used = art.model, art.columns, art.feature_config, art.model_id
        rc = _regime_for(art, symbol.upper(), bars, ctx)
        news = news_frame(ctx) if art.feature_config.extra.get("sentiment") else None
    except ModelNotFound:
        if model_id:
            raise
        half = bars.iloc[: len(bars) // 2]
        data = build_dataset({symbol: half}, 5, 0.0, cfg)
        model = EnsembleClassifier(**PRESETS["tiny"]).fit(data.X.to_numpy(dtype=np.float64), data.y)
        columns, used = list(data.X.columns), None
        rc = RegimeClassifier(k_regimes=2).fit(half)
    report = truncation_audit(
        bars, feature_fn=lambda b: _model_features(b, cfg, symbol.upper(), news), model=model, columns=columns, regime=rc,
        n_points=n_points, min_t=cfg.warmup, seed=seed,
    )  # fmt: skip
    from core.services.windows import model_windows

    # The second half of the audit: no model of the paper session trades a bar it was trained on (or within its embargo).
    windows = [{k: (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in w.items()} for w in model_windows(ctx)]
    overlaps = [w["model_id"] for w in windows if w["overlap"]]
    # The third: forecast-driven exposure (risk.forecast_var) scales on the bars up to t only.
    from core.services.exposure import exposure_audit

    exposure = exposure_audit(bars, symbol.upper(), budget=ctx.settings.risk.var_budget_pct, model=ctx.settings.risk.forecast_model,
                              n_points=n_points, seed=seed)  # fmt: skip
    return {"symbol": symbol.upper(), "model_id": used, **report, "ok": bool(report["ok"]) and not overlaps and exposure["ok"],
            "features_ok": bool(report["ok"]), "session_models": windows, "overlapping_models": overlaps, "exposure": exposure}
