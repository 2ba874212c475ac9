"""Model training: the walk-forward evaluation, the final fit and the saved artifact (``train``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from core.features import FeatureConfig, feature_hash
from core.models.registry import ModelArtifact, save
from core.services.background import Task, start_task
from core.services.context import Context, get_context
from core.services.data import load_bars
from core.services.headlines import news_frame

# scikit-learn, statsmodels and torch load inside the functions that need them: importing
# the facade (every page and CLI command) stays fast.

Progress = Callable[[float, str], None]

# Presets trade accuracy for time; "fast" keeps the UI responsive, "tiny" is for tests and the audit.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "n_estimators": 10, "gb_max_iter": 10, "cat_iterations": 10, "mlp_max_iter": 30, "mlp_hidden": (8,),
        "torch_params": {"window": 4, "hidden": 8, "epochs": 1},
    },
    "fast": {
        "n_estimators": 60, "rf_max_samples": 0.25, "gb_max_iter": 60, "cat_iterations": 60,
        "mlp_max_iter": 40, "mlp_hidden": (16,), "mlp_batch_size": 1024,
        "torch_params": {"window": 8, "hidden": 16, "epochs": 2, "batch_size": 512},
    },
    "standard": {},
}


def models_dir(ctx: Context | None = None) -> Path:
    """Return the directory model files go to (``data.models_dir`` unless ``ctx.extras['models_dir']``)."""
    ctx = ctx or get_context()
    return Path(ctx.extras.get("models_dir") or ctx.settings.path(ctx.settings.data.models_dir))


def _notify(progress: Progress | None, frac: float, msg: str) -> None:
    if progress is not None:
        progress(float(min(max(frac, 0.0), 1.0)), msg)


def _summary(report: dict) -> dict:
    """Return the report without the per-sample arrays (what goes into the database)."""
    return {
        "overall": report["overall"],
        "baselines": report["baselines"],
        "folds": report["folds"],
        "n_folds": report["n_folds"],
        "importance": report["importance"][:20],
    }


def _research_executor(ctx: Context | None):
    from core.research.executor import executor_from_settings

    return executor_from_settings((ctx or get_context()).settings)


def train(
    symbols: list[str] | str,
    horizon: int = 5,
    *,
    dead_band: float = 0.0,
    labels: str = "direction",
    barrier: float = 0.02,
    n_splits: int = 5,
    embargo: int | None = None,
    mode: str = "expanding",
    train_size: int | None = None,
    method: str = "soft",
    calibration: str | None = "sigmoid",
    preset: str = "standard",
    members: tuple[str, ...] | None = None,
    model_params: dict | None = None,
    regime: bool = True,
    regime_params: dict | None = None,
    importance_rows: int = 1000,
    importance_repeats: int = 3,
    timeframe: str = "1d",
    start: str | None = None,
    end: str | None = None,
    feature_config: FeatureConfig | None = None,
    sentiment: bool | None = None,
    bars: dict[str, pd.DataFrame] | None = None,
    n_jobs: int = 1,
    dask: bool = False,
    progress: Progress | None = None,
    actor: str = "user",
    ctx: Context | None = None,
) -> dict:
    """Evaluate the ensemble walk-forward, fit it on all data, save it and return the report.

    Parameters
    ----------
    symbols
        Symbols to pool (a list or "AAPL,MSFT").
    horizon
        Label horizon in bars (direction of close[t+horizon] / close[t]).
    dead_band
        Leave returns within ±dead_band unlabelled.
    labels, barrier
        ``"direction"`` or ``"triple_barrier"`` labels (barriers at ±``barrier``).
    n_splits, embargo, mode, train_size
        Walk-forward folds (see :class:`~core.models.cv.PurgedWalkForward`); embargo defaults to the horizon.
    method, calibration
        Ensemble combination and calibration (see :class:`~core.models.ensemble.EnsembleClassifier`).
    preset
        ``"tiny"``, ``"fast"`` or ``"standard"`` model sizes; ``model_params`` override single parameters.
    members
        Ensemble members (default: rf, gb, mlp, cat, plus the PyTorch sequence member when torch is installed).
    regime
        Also fit a regime classifier per symbol (on that symbol's bars of the training range).
    importance_rows, importance_repeats
        Rows of the last fold for permutation importance (0 skips it) and shuffles per feature.
    sentiment
        Add the causal news-sentiment features (default: ``models.features.sentiment``).
    bars
        Bars per symbol to train on instead of loading them (a live feed, synthetic data).
    n_jobs
        Worker processes for the walk-forward folds and the final fit (run in parallel).
    dask
        Run the folds and the final fit on the research executor instead (a local Dask cluster,
        or the one at ``research.scheduler_address``).
    progress
        Called with (fraction done, message) as training proceeds.
    actor
        Who asked for the training, recorded in the audit log.

    Returns
    -------
    dict
        ``model_id``, ``symbols``, ``horizon``, ``n_samples``, data range and the
        out-of-sample report: ``overall`` and per-fold metrics (each with n and 95% CI),
        ``baselines`` (majority class, coin flip), ``importance``.
    """
    from core.models.cv import PurgedWalkForward
    from core.models.dataset import build_dataset
    from core.models.ensemble import MEMBERS, EnsembleClassifier
    from core.models.regime import RegimeClassifier
    from core.models.torch_member import torch_available
    from core.models.walkforward import walk_forward

    ctx = ctx or get_context()
    if bars is not None and not symbols:
        symbols = list(bars)
    syms = [s.strip().upper() for s in (symbols.split(",") if isinstance(symbols, str) else symbols) if s.strip()]
    if not syms:
        raise ValueError("give at least one symbol, e.g. --symbols AAPL,MSFT")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    from core.models.model_features import uses_sentiment, with_sentiment

    cfg = feature_config or FeatureConfig()
    if sentiment if sentiment is not None else ctx.settings.models.features.sentiment:
        cfg = with_sentiment(cfg)
    _notify(progress, 0.0, f"loading bars of {', '.join(syms)}")
    if bars is not None:
        bars = {s.upper(): b for s, b in bars.items()}
        missing = [s for s in syms if s not in bars]
        if missing:
            raise ValueError(f"no bars given for {', '.join(missing)}")
    else:
        bars = {s: load_bars(s, timeframe=timeframe, start=start, end=end, ctx=ctx) for s in syms}
    _notify(progress, 0.05, "computing features and labels")
    data = build_dataset(bars, horizon, dead_band, cfg, labels=labels, barrier=barrier, news=news_frame(ctx) if uses_sentiment(cfg) else None)
    if members is None:
        members = (*MEMBERS, "torch") if torch_available() else MEMBERS
    params = {**PRESETS[preset], "members": tuple(members), **(model_params or {})}
    # Purge inside the ensemble's own calibration holdout too: labels of pooled symbols overlap by horizon rows each.
    # Parallelism goes to whole folds (processes); each member then runs single-threaded.
    model = EnsembleClassifier(method=method, calibration=calibration, gap=horizon * len(syms), n_jobs=1, **params)
    splitter = PurgedWalkForward(n_splits=n_splits, embargo=horizon if embargo is None else embargo, mode=mode, train_size=train_size)

    def wf_progress(frac: float, msg: str) -> None:
        _notify(progress, 0.1 + 0.7 * frac, msg)

    report = walk_forward(
        data, model, splitter, overlap=horizon, importance_rows=importance_rows, importance_repeats=importance_repeats,
        progress=wf_progress, n_jobs=n_jobs, fit_final=True,
        executor=_research_executor(ctx) if dask else None,
    )  # fmt: skip
    final = report.pop("final_model")  # fitted on all rows, alongside the folds
    regimes = {}
    if regime:
        for i, s in enumerate(syms):
            _notify(progress, 0.85 + 0.1 * i / len(syms), f"fitting the regime classifier of {s}")
            regimes[s] = RegimeClassifier(**(regime_params or {})).fit(bars[s])
    columns = list(data.X.columns)
    all_params = {
        "horizon": horizon, "dead_band": dead_band, "labels": labels, "barrier": barrier, "n_splits": n_splits, "embargo": splitter.embargo, "mode": mode,
        "train_size": train_size, "timeframe": timeframe, "preset": preset, "ensemble": _jsonable(final.get_params()),
        "features": cfg.to_dict(), "regime": (regime_params or {}) if regime else None,
    }  # fmt: skip
    artifact = ModelArtifact(
        model=final, columns=columns, feature_config=cfg, horizon=horizon, symbols=syms, regimes=regimes,
        report=report, params=all_params, dead_band=dead_band,
    )  # fmt: skip
    start_ts = min(pd.Timestamp(b.index[0]) for b in bars.values()).to_pydatetime()
    end_ts = max(pd.Timestamp(b.index[-1]) for b in bars.values()).to_pydatetime()
    summary = _summary(report)
    model_id = save(
        artifact, ctx.store, models_dir(ctx), created=ctx.clock.now(), features_hash=feature_hash(columns, cfg),
        data_start=start_ts, data_end=end_ts, metrics=summary,
    )  # fmt: skip
    ctx.store.audit("model", f"trained {model_id} on {','.join(syms)} (horizon {horizon})", {"model_id": model_id, "auc": report["overall"].get("roc_auc")},
                    actor=actor)
    _notify(progress, 1.0, f"saved {model_id}")
    return {
        "model_id": model_id, "symbols": syms, "horizon": horizon, "n_samples": len(data), "n_features": len(columns),
        "members": list(final.members), "sentiment": uses_sentiment(cfg),
        "data_start": start_ts.isoformat(), "data_end": end_ts.isoformat(), **summary,
    }  # fmt: skip


def start_training(symbols: list[str] | str, horizon: int = 5, *, key: str | None = None, process: bool = True, **kwargs: Any) -> Task:
    """Start :func:`train` in the background and return its task at once.

    The task carries the progress (fraction, message) while it runs, then :func:`train`'s
    report as its ``result`` or the exception as its ``error``. With ``process`` (the default)
    the training runs in a worker process, so the caller's interpreter (a page server) stays
    responsive. ``kwargs`` go to :func:`train`.
    """
    import uuid

    names = symbols if isinstance(symbols, str) else ", ".join(symbols)
    return start_task(key or f"train:{uuid.uuid4().hex[:12]}", train, symbols, horizon, label=f"training on {names}", progress_arg="progress",
                      process=process, **kwargs)  # fmt: skip


def _jsonable(params: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items() if isinstance(v, (int, float, str, bool, tuple, list, dict, type(None)))}

