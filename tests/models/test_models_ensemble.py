"""The ensemble: scikit-learn's estimator checks, out-of-sample skill on a learnable signal, calibration."""
# ruff: noqa: N806

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from core.models.ensemble import EnsembleClassifier

TINY = {"n_estimators": 5, "gb_max_iter": 5, "cat_iterations": 5, "mlp_max_iter": 20, "mlp_hidden": (4,)}


@parametrize_with_checks([EnsembleClassifier(**TINY)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _signal(n=1500, seed=0):
    # y depends on two of eight features through a logistic link: a model must find it, out of sample.
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    p = 1 / (1 + np.exp(-(2.0 * X[:, 0] - 1.5 * X[:, 1])))
    y = (rng.random(n) < p).astype(int)
    return X, y, p


@pytest.mark.parametrize("method,calibration", [("soft", "sigmoid"), ("soft", "isotonic"), ("stacking", None), ("soft", None)])
def test_learns_a_signal_out_of_sample(method, calibration):
    X, y, p_true = _signal()
    model = EnsembleClassifier(method=method, calibration=calibration, **{**TINY, "n_estimators": 30, "gb_max_iter": 30, "cat_iterations": 30})
    model.fit(X[:1000], y[:1000])
    proba = model.predict_proba(X[1000:])
    assert proba.shape == (500, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba >= 0).all() and (proba <= 1).all()
    auc = roc_auc_score(y[1000:], proba[:, 1])
    best = roc_auc_score(y[1000:], p_true[1000:])  # the Bayes-optimal score on the same rows
    assert auc > 0.75 and auc > best - 0.08
    assert model.calibrated_ is (calibration is not None or method == "stacking")


def test_calibration_brings_mean_probability_to_the_base_rate():
    # A strongly imbalanced target: soft votes of under-fitted members sit near 0.5; Platt scaling fixes the level.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 5))
    y = (rng.random(2000) < 0.2).astype(int)
    raw = EnsembleClassifier(calibration=None, **TINY).fit(X[:1500], y[:1500])
    cal = clone(raw).set_params(calibration="sigmoid").fit(X[:1500], y[:1500])
    base = y[1500:].mean()
    assert abs(cal.predict_proba(X[1500:])[:, 1].mean() - base) < abs(raw.predict_proba(X[1500:])[:, 1].mean() - base)
    assert abs(cal.predict_proba(X[1500:])[:, 1].mean() - base) < 0.05


def test_member_probabilities_and_params():
    X, y, _ = _signal(400)
    model = EnsembleClassifier(**TINY).fit(X, y)
    members = model.member_proba(X[:10])
    assert set(members) == {"rf", "gb", "mlp", "cat"}
    assert model.get_params()["n_estimators"] == 5
    with pytest.raises(ValueError, match="unknown ensemble member 'xgb'"):
        EnsembleClassifier(members=("xgb",)).fit(X, y)
