"""Registry: files under the models directory, rows in model_runs, on SQLite and PostgreSQL."""
# ruff: noqa: N806

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from core.features import FeatureConfig
from core.models.ensemble import EnsembleClassifier
from core.models.registry import ModelArtifact, ModelNotFound, list_runs, load, save
from core.store import Store


def _artifact(seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(120, 3)), rng.integers(0, 2, 120)
    model = EnsembleClassifier(members=("gb",), calibration=None, gb_max_iter=5).fit(X, y)
    return ModelArtifact(model=model, columns=["a", "b", "c"], feature_config=FeatureConfig(), horizon=5, symbols=["AAPL"]), X


def test_save_load_latest_and_by_id(db_url, tmp_path):
    store = Store(db_url)
    with pytest.raises(ModelNotFound, match="python -m core train"):
        load(store)
    t = datetime(2024, 1, 2, tzinfo=UTC)
    first, X = _artifact(0)
    id1 = save(first, store, tmp_path, created=t, features_hash="h1", data_start=t - timedelta(days=9), data_end=t, metrics={"auc": 0.5})
    second, _ = _artifact(1)
    id2 = save(second, store, tmp_path, created=t + timedelta(hours=1), features_hash="h2", data_start=None, data_end=None, metrics={})
    assert (tmp_path / f"{id1}.joblib").exists() and (tmp_path / f"{id2}.joblib").exists()
    assert load(store).model_id == id2
    again = load(store, id1)
    np.testing.assert_allclose(again.model.predict_proba(X), first.model.predict_proba(X))
    rows = list_runs(store)
    assert [r.id for r in rows] == [id2, id1]
    assert rows[1].metrics == {"auc": 0.5} and rows[1].symbols == "AAPL" and rows[1].data_start == t - timedelta(days=9)
    with pytest.raises(ModelNotFound, match="no model 'nope'"):
        load(store, "nope")
    (tmp_path / f"{id2}.joblib").unlink()
    with pytest.raises(ModelNotFound, match="is missing: retrain"):
        load(store, id2)
