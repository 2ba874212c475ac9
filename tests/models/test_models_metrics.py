"""Metrics and their confidence intervals against scikit-learn, statsmodels and DeLong's method."""

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, brier_score_loss, log_loss, roc_auc_score
from statsmodels.stats.proportion import proportion_confint

from core.models.metrics import baselines, classification_report, hanley_mcneil_se, wilson


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 800)
    p = np.clip(0.5 + 0.25 * (y - 0.5) + rng.normal(0, 0.2, 800), 0.01, 0.99)
    return y, p


def test_point_values_match_sklearn(sample):
    y, p = sample
    rep = classification_report(y, p)
    assert rep["n"] == 800
    assert rep["accuracy"]["value"] == pytest.approx(accuracy_score(y, p >= 0.5))
    assert rep["balanced_accuracy"]["value"] == pytest.approx(balanced_accuracy_score(y, p >= 0.5))
    assert rep["roc_auc"]["value"] == pytest.approx(roc_auc_score(y, p))
    assert rep["log_loss"]["value"] == pytest.approx(log_loss(y, p))
    assert rep["brier"]["value"] == pytest.approx(brier_score_loss(y, p))
    for key in ("accuracy", "balanced_accuracy", "roc_auc", "log_loss", "brier"):
        assert rep[key]["lo"] <= rep[key]["value"] <= rep[key]["hi"]


def test_wilson_interval_matches_statsmodels():
    for k, n in ((0, 10), (7, 10), (530, 1000), (999, 1000)):
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert wilson(k, n) == pytest.approx((lo, hi), abs=1e-9)


def test_overlapping_labels_widen_the_interval(sample):
    y, p = sample
    narrow = classification_report(y, p, overlap=1)["accuracy"]
    wide = classification_report(y, p, overlap=5)["accuracy"]
    acc = narrow["value"]
    assert (wide["lo"], wide["hi"]) == pytest.approx(proportion_confint(acc * 160, 160, method="wilson"))
    assert wide["hi"] - wide["lo"] > 2 * (narrow["hi"] - narrow["lo"])


def _delong_se(y, p):
    # DeLong et al. (1988) structural components: an independent estimate of the AUC's standard error.
    pos, neg = p[y == 1], p[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return math.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))


def test_hanley_mcneil_se_agrees_with_delong(sample):
    y, p = sample
    auc = roc_auc_score(y, p)
    hm = hanley_mcneil_se(auc, (y == 1).sum(), (y == 0).sum())
    assert hm == pytest.approx(_delong_se(y, p), rel=0.15)


def test_baselines_majority_and_coin_flip():
    y_train = np.array([1, 1, 1, 0])
    y_test = np.array([1, 0, 1, 1, 0, 0, 1, 1])
    base = baselines(y_test, y_train)
    maj = base["majority"]
    assert maj["accuracy"]["value"] == pytest.approx(5 / 8)  # always "up"
    assert maj["balanced_accuracy"]["value"] == pytest.approx(0.5)
    assert maj["log_loss"]["value"] == pytest.approx(log_loss(y_test, np.full(8, 0.75)))
    coin = base["coin_flip"]
    assert coin["log_loss"]["value"] == pytest.approx(math.log(2))
    assert coin["brier"]["value"] == 0.25
    assert coin["accuracy"]["value"] == 0.5 and coin["accuracy"]["lo"] == pytest.approx(0.5 - 1.959964 * math.sqrt(0.25 / 8))
