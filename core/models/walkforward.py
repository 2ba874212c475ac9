"""Walk-forward evaluation: out-of-sample scores per fold and overall, baselines, calibration, importance.

Only predictions on test folds are ever scored; nothing here reports an in-sample number.
"""

# X is the scikit-learn name for a feature matrix.
# ruff: noqa: N803, N806
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.calibration import calibration_curve
from sklearn.inspection import permutation_importance

from core.models.cv import PurgedWalkForward
from core.models.dataset import Dataset
from core.models.metrics import baselines, classification_report

Progress = Callable[[float, str], None]


def _iso(t: Any) -> str:
    import pandas as pd

    ts = pd.Timestamp(t)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts).isoformat()


def _takes_groups(model: Any) -> bool:
    return "groups" in inspect.signature(model.fit).parameters


def _fit_predict(
    model: Any, X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray | None, groups: np.ndarray | None = None
) -> tuple[Any, np.ndarray | None]:
    """Fit a clone on ``train`` and return it with its probability of class 1 on ``test``.

    ``groups`` (symbols) go to models whose ``fit`` takes them (the sequence member's windows).
    """
    est = clone(model)
    use_groups = groups is not None and _takes_groups(est)
    est.fit(X[train], y[train], groups=groups[train]) if use_groups else est.fit(X[train], y[train])
    if test is None:
        return est, None
    proba = est.predict_proba(X[test], groups=groups[test]) if use_groups else est.predict_proba(X[test])
    p = proba[:, list(est.classes_).index(1)] if 1 in est.classes_ else np.zeros(len(test))
    return est, p


def _indexed_fit_predict(i: int, model: Any, X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray | None, groups: np.ndarray | None) -> tuple:
    return (i, *_fit_predict(model, X, y, train, test, groups))


def _fit_task(shared: tuple, task: tuple) -> tuple:
    """One fold on a research-executor worker: ``shared`` (model, X, y, groups) arrives once per worker, by reference."""
    model, X, y, groups = shared
    i, train, test = task
    return _indexed_fit_predict(i, model, X, y, train, test, groups)


def walk_forward(
    data: Dataset,
    model: Any,
    splitter: PurgedWalkForward,
    *,
    overlap: float = 1.0,
    importance_rows: int = 1000,
    importance_repeats: int = 3,
    calibration_bins: int = 10,
    progress: Progress | None = None,
    random_state: int = 0,
    n_jobs: int = 1,
    fit_final: bool = False,
    executor: Any = None,
) -> dict:
    """Evaluate ``model`` fold by fold and return a JSON-ready report.

    Parameters
    ----------
    data
        The pooled, time-ordered dataset.
    model
        An unfitted sklearn classifier; it is cloned for each fold.
    splitter
        Produces (train, test) positions with purge and embargo.
    overlap
        Samples per independent observation, for confidence intervals (the horizon).
    importance_rows
        Permutation importance runs on at most this many of the last fold's test rows (0 disables it).
    importance_repeats
        Shuffles per feature.
    calibration_bins
        Quantile bins of the calibration curve.
    progress
        Called with (fraction done, message).
    n_jobs
        Worker processes: folds (and the final fit) are independent and run in parallel.
    fit_final
        Also fit ``model`` on all rows (in the same worker pool); it is returned
        under the report key ``"final_model"`` (pop it before serialising).
    executor
        A research executor (:func:`core.services.research_executor`, Dask): the folds run on
        its workers instead of ``n_jobs`` local processes; the data is sent once per worker.
    """
    folds = []
    oof_p, oof_y, oof_prior, oof_idx = [], [], [], []
    splits = list(splitter.split(data.t0, data.t1))
    if not splits:
        raise ValueError("the walk-forward splitter produced no fold with both training and test rows: use more data or fewer folds")
    last_model = None
    last_test = None
    X = data.X.to_numpy(dtype=np.float64)
    groups = np.asarray(data.symbol).astype(str)
    tasks = [(train, test) for train, test in splits]
    if fit_final:
        tasks.append((np.arange(len(data)), None))
    if progress:
        where = "the research cluster" if executor is not None else f"{min(n_jobs, len(tasks))} worker(s)"
        progress(0.0, f"{len(splits)} folds{' and the final fit' if fit_final else ''} on {where}")
    if executor is not None:
        order = sorted(range(len(tasks)), key=lambda i: -len(tasks[i][0]))
        jobs = [(f"fold-{id(data)}-{i}", "data", (i, *tasks[i])) for i in order]
        results = []
        with executor:
            for done, res in enumerate(executor.map(_fit_task, jobs, {"data": (model, X, data.y, groups)})):
                results.append(res)
                if progress:
                    progress((done + 1) / (len(tasks) + 1), f"{done + 1}/{len(tasks)} fits done on the research cluster")
    elif n_jobs == 1:
        results = [(i, *_fit_predict(model, X, data.y, a, b, groups)) for i, (a, b) in enumerate(tasks)]
    else:
        # Largest training sets first, collected as they finish: the workers stay evenly loaded.
        order = sorted(range(len(tasks)), key=lambda i: -len(tasks[i][0]))
        jobs = (delayed(_indexed_fit_predict)(i, model, X, data.y, *tasks[i], groups) for i in order)
        results = []
        for done, res in enumerate(Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs)):
            results.append(res)
            if progress:
                progress((done + 1) / (len(tasks) + 1), f"{done + 1}/{len(tasks)} fits done")
    final_model = None
    for k, est, p in sorted(results, key=lambda r: r[0]):
        train, test = tasks[k]
        if test is None:
            final_model = est
            continue
        if progress and n_jobs == 1 and executor is None:
            progress((k + 1) / (len(tasks) + 1), f"fold {k + 1}/{len(splits)} done: trained on {len(train)} rows, tested on {len(test)}")
        y_test = data.y[test]
        fold = {
            "fold": k + 1,
            "train": {"n": len(train), "start": _iso(data.t0[train].min()), "end": _iso(data.t0[train].max()), "label_end": _iso(data.t1[train].max())},
            "test": {"n": len(test), "start": _iso(data.t0[test].min()), "end": _iso(data.t0[test].max())},
            "metrics": classification_report(y_test, p, overlap),
            "baselines": baselines(y_test, data.y[train], overlap),
        }
        folds.append(fold)
        oof_p.append(p)
        oof_y.append(y_test)
        oof_prior.append(np.full(len(test), float(np.mean(data.y[train]))))
        oof_idx.append(test)
        last_model, last_test = est, test
    p_all, y_all = np.concatenate(oof_p), np.concatenate(oof_y)
    prior_all = np.concatenate(oof_prior)
    idx_all = np.concatenate(oof_idx)
    overall_base = baselines(y_all, np.array([]), overlap)
    overall_base["majority"] = classification_report(y_all, np.where(prior_all == 0.5, 0.5 + 1e-9, prior_all), overlap)
    report = {
        "n_folds": len(folds),
        "folds": folds,
        "overall": classification_report(y_all, p_all, overlap),
        "baselines": overall_base,
        "calibration": _calibration(y_all, p_all, calibration_bins),
        "importance": [],
        "final_model": final_model,
        "oof": {"t0": [_iso(t) for t in data.t0[idx_all]], "symbol": list(data.symbol[idx_all]), "p": p_all.tolist(), "y": y_all.tolist()},
    }
    if importance_rows and last_model is not None and len(np.unique(data.y[last_test])) == 2:
        if progress:
            progress(len(splits) / (len(splits) + 1), "permutation importance on the last validation fold")
        rows = last_test[-importance_rows:]
        imp = permutation_importance(last_model, X[rows], data.y[rows], scoring="roc_auc", n_repeats=importance_repeats, random_state=random_state, n_jobs=1)
        order = np.argsort(-imp.importances_mean)
        report["importance"] = [
            {"feature": str(data.X.columns[i]), "mean": float(imp.importances_mean[i]), "std": float(imp.importances_std[i])} for i in order
        ]
    if progress:
        progress(1.0, "walk-forward done")
    return report


def _calibration(y: np.ndarray, p: np.ndarray, bins: int) -> dict:
    if len(np.unique(y)) < 2:
        return {"prob_true": [], "prob_pred": [], "count": []}
    prob_true, prob_pred = calibration_curve(y, p, n_bins=bins, strategy="quantile")
    # Same binning as sklearn's quantile strategy, to report how many predictions each point rests on.
    edges = np.percentile(p, np.linspace(0, 100, bins + 1))
    total = np.bincount(np.searchsorted(edges[1:-1], p), minlength=len(edges))
    return {"prob_true": prob_true.tolist(), "prob_pred": prob_pred.tolist(), "count": total[total != 0].tolist()}
