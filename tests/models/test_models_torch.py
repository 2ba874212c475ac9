"""The optional PyTorch sequence member: causal windows, learning a sequential signal, joining the ensemble."""
# ruff: noqa: N806

import numpy as np
import pytest

from core.models.torch_member import torch_available, window_index

needs_torch = pytest.mark.skipif(not torch_available(), reason="PyTorch is not installed: pip install -r requirements-torch.txt to test the sequence member")


def test_windows_look_back_within_their_group_only():
    groups = np.array(["A", "B", "A", "B", "A"])
    idx = window_index(5, 3, groups)
    # Row 4 (third A): rows 0, 2, 4. Row 3 (second B): padding, 1, 3. Never a row after itself.
    np.testing.assert_array_equal(idx[4], [0, 2, 4])
    np.testing.assert_array_equal(idx[3], [-1, 1, 3])
    np.testing.assert_array_equal(idx[0], [-1, -1, 0])
    assert (idx <= np.arange(5)[:, None]).all()


@needs_torch
def test_learns_a_signal_that_lives_in_the_previous_row():
    from core.models.torch_member import TorchSequenceClassifier

    # y_t is the sign of x_{t-1}: invisible to a row-wise model, plain to a window of 2.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 3))
    y = np.concatenate([[0], (x[:-1, 0] > 0).astype(int)])
    model = TorchSequenceClassifier(window=2, hidden=8, epochs=15, lr=1e-2).fit(x[:2500], y[:2500])
    acc = (model.predict(x[2500:]) == y[2500:]).mean()
    assert acc > 0.85
    # Causal: the prediction for a row does not change when later rows are appended.
    full = model.predict_proba(x[2500:])
    part = model.predict_proba(x[2500:2700])
    np.testing.assert_allclose(part, full[:200], rtol=1e-5, atol=1e-6)


@needs_torch
def test_joins_the_ensemble_and_survives_the_registry(tmp_path):
    import joblib

    from core.models.ensemble import EnsembleClassifier

    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 5))
    y = (X[:, 0] + rng.normal(0, 0.5, 600) > 0).astype(int)
    groups = np.where(np.arange(600) % 2, "A", "B")
    model = EnsembleClassifier(
        members=("gb", "torch"), gb_max_iter=10, torch_params={"window": 4, "hidden": 4, "epochs": 2}
    ).fit(X, y, groups=groups)  # fmt: skip
    assert model.context_rows_ == 4
    joblib.dump(model, tmp_path / "m.joblib")
    again = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_allclose(again.predict_proba(X[:50], groups=groups[:50]), model.predict_proba(X[:50], groups=groups[:50]))
    assert set(model.member_proba(X[:5])) == {"gb", "torch"}


if torch_available():
    from sklearn.utils.estimator_checks import parametrize_with_checks

    from core.models.ensemble import EnsembleClassifier

    # A sequence model reads each row together with the rows before it, so reordering or
    # subsetting rows changes its predictions by design: those two checks do not apply.
    ORDER_DEPENDENT = {
        "check_methods_sample_order_invariance": "windows of consecutive rows depend on row order",
        "check_methods_subset_invariance": "a row's window depends on which rows precede it",
    }

    @parametrize_with_checks(
        [EnsembleClassifier(members=("gb", "torch"), gb_max_iter=5, torch_params={"window": 3, "hidden": 4, "epochs": 1})],
        expected_failed_checks=lambda est: ORDER_DEPENDENT,
    )
    def test_sklearn_estimator_checks_with_the_sequence_member(estimator, check):
        check(estimator)
