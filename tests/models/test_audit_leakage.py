"""The truncation audit passes on our pipeline and names a planted look-ahead leak."""

import json

import pandas as pd
import pytest

from core import services
from core.cli import main
from core.features import FeatureConfig, compute
from core.models.audit import P_UP, REGIME, truncation_audit
from core.models.dataset import build_dataset
from core.models.ensemble import EnsembleClassifier
from core.models.regime import RegimeClassifier
from core.services.models import PRESETS


@pytest.fixture(scope="module")
def bars():
    return services.load_bars("MSFT").iloc[:900]


def test_our_features_model_and_regime_pass(bars):
    data = build_dataset({"MSFT": bars.iloc[:500]}, horizon=5)
    model = EnsembleClassifier(**PRESETS["tiny"]).fit(data.X.to_numpy(), data.y)
    regime = RegimeClassifier(k_regimes=2, fit_window=None).fit(bars.iloc[:500])
    rep = truncation_audit(bars, model=model, columns=list(data.X.columns), regime=regime, n_points=6, min_t=FeatureConfig().warmup)
    assert rep["ok"], rep["details"]
    assert rep["columns_checked"] == compute(bars).shape[1] + 2
    assert len(rep["points"]) == 6


def test_a_planted_shift_minus_one_feature_is_reported_by_name(bars):
    def leaky(b: pd.DataFrame) -> pd.DataFrame:
        f = compute(b)
        f["tomorrow_return"] = b["close"].shift(-1) / b["close"] - 1  # the leak
        return f

    rep = truncation_audit(bars, feature_fn=leaky, n_points=4, min_t=100)
    assert not rep["ok"]
    assert rep["offending"] == ["tomorrow_return"]
    assert len(rep["details"]["tomorrow_return"]) == 4  # caught at every point checked


def test_a_leaky_normalisation_and_a_leaky_regime_are_caught(bars):
    def full_sample_zscore(b: pd.DataFrame) -> pd.DataFrame:
        f = compute(b)[["rsi_14"]]
        f["rsi_z"] = (f["rsi_14"] - f["rsi_14"].mean()) / f["rsi_14"].std()  # statistics of the whole sample
        return f

    class SmoothedRegime:
        def classify(self, b):  # labels by the full-sample median: uses the future
            up = b["close"] > b["close"].median()
            return up.map({True: "bull", False: "bear"})

    rep = truncation_audit(bars, feature_fn=full_sample_zscore, regime=SmoothedRegime(), n_points=5, min_t=100, seed=3)
    assert "rsi_z" in rep["offending"] and "rsi_14" not in rep["offending"]
    assert REGIME in rep["offending"]
    assert P_UP not in rep["offending"]


def test_cli_audit_json_without_a_trained_model(ctx, tmp_path, capsys):
    ctx.extras["models_dir"] = str(tmp_path / "m")
    assert main(["audit", "--symbol", "IBM", "--points", "3", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["ok"] and rep["model_id"] is None and rep["columns_checked"] >= 102
    # the forecast-driven exposure scale is audited the same way (risk.forecast_var)
    assert rep["exposure"]["ok"] and rep["exposure"]["columns"] == ["forecast_var", "exposure_scale", "equity"] and len(rep["exposure"]["points"]) == 3
