"""Model health: PSI and calibration formulas, planted drift raises the alarm in time, a stationary series never does."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.models.drift import DriftThresholds, assess, brier, monitor, psi, spiegelhalter_z

HORIZON, WINDOW = 5, 120


def _series(n: int, seed: int, shift_at: int | None = None, flip_at: int | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features N(0,1); a model with skill, p = sigmoid(1.5 x0); outcomes drawn from p (or 1 - p after ``flip_at``)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    if shift_at is not None:
        x[shift_at:, :3] += 1.5  # three of five features move by 1.5 standard deviations
    p = 1 / (1 + np.exp(-1.5 * x[:, 0]))
    truth = p.copy()
    if flip_at is not None:
        truth[flip_at:] = 1 - truth[flip_at:]
    y = (rng.random(n) < truth).astype(int)
    index = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    return pd.DataFrame(x, index=index, columns=[f"f{i}" for i in range(5)]), p, y


@pytest.fixture(scope="module")
def training() -> tuple[pd.DataFrame, float]:
    x, p, y = _series(2000, 1)
    return x, float(np.mean((p >= 0.5) == (y == 1)))  # the "out-of-sample" accuracy of this model


def test_psi_matches_a_hand_computed_case():
    # Quartiles of 0..99; every live value falls in the first: shares (1, 0, 0, 0) floored at 1e-4.
    value = psi(np.arange(100.0), np.linspace(0, 10, 40), bins=4)
    expected = 0.75 * math.log(4) + 3 * (1e-4 - 0.25) * math.log(1e-4 / 0.25)
    assert value == pytest.approx(expected, rel=1e-9)
    assert value == pytest.approx(6.90541, abs=1e-4)
    assert psi(np.arange(100.0), np.arange(100.0), bins=4) == pytest.approx(0.0, abs=1e-12)


def test_calibration_statistics_match_hand_computed_values():
    p, y = np.array([0.2, 0.8, 0.5, 0.9]), np.array([0, 1, 1, 0])
    # sum (y-p)(1-2p) = -0.12 - 0.12 + 0 + 0.72 = 0.48; sum (1-2p)^2 p (1-p) = 3 * 0.0576 = 0.1728.
    assert spiegelhalter_z(p, y) == pytest.approx(0.48 / math.sqrt(0.1728), rel=1e-12)
    assert spiegelhalter_z(p, y, overlap=4) == pytest.approx(0.48 / math.sqrt(0.1728) / 2, rel=1e-12)
    assert brier(p, y) == pytest.approx((0.04 + 0.04 + 0.25 + 0.81) / 4, rel=1e-12)


def test_shifted_features_raise_the_feature_alarm_after_the_shift(training):
    train, oos = training
    x, p, y = _series(600, 10, shift_at=300)
    m = monitor(train, x, p, y, horizon=HORIZON, window=WINDOW, oos_accuracy=oos, step=3)
    first = m.index[m["feature"].to_numpy()][0]
    assert not m.loc[: x.index[299], "alarm"].any()
    assert x.index[300] < first <= x.index[300 + WINDOW // 2]
    assert m.loc[x.index[300 + WINDOW] :, "feature"].all()


def test_flipped_labels_raise_the_calibration_and_hit_rate_alarms_after_the_flip(training):
    train, oos = training
    x, p, y = _series(600, 11, flip_at=300)
    m = monitor(train, x, p, y, horizon=HORIZON, window=WINDOW, oos_accuracy=oos, step=3)
    assert not m.loc[: x.index[299], "alarm"].any()
    assert not m["feature"].any()  # the inputs did not move, only their meaning did
    cal = m.index[m["calibration"].to_numpy()][0]
    hit = m.index[m["hit"].to_numpy()][0]
    assert x.index[300] < cal <= x.index[300 + WINDOW] and x.index[300] < hit <= x.index[300 + WINDOW]


def test_stationary_series_raise_no_alarm(training):
    train, oos = training
    checks = alarms = 0
    for seed in range(2, 5):
        x, p, y = _series(1200, seed)
        m = monitor(train, x, p, y, horizon=HORIZON, window=WINDOW, oos_accuracy=oos, step=5)
        checks += len(m)
        alarms += int(m["alarm"].sum())
    print(f"\nstationary: {alarms} alarms in {checks} checks (false-alarm rate {alarms / checks:.4f})")
    assert checks > 600 and alarms == 0


def test_too_few_outcomes_decide_nothing_and_thresholds_bind():
    rep = assess(None, None, np.full(10, 0.9), np.zeros(10), oos_accuracy=0.6)
    assert rep.n_outcomes == 10 and rep.hit_rate is None and not rep.alarm
    wrong = assess(None, None, np.full(200, 0.9), np.zeros(200), oos_accuracy=0.6, thresholds=DriftThresholds(calibration_z=3.0))
    assert wrong.calibration_alarm and wrong.hit_alarm and len(wrong.reasons) == 2
