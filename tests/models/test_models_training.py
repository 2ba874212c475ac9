"""Walk-forward training through the facade and the CLI: out-of-sample report, registry, predict."""
# ruff: noqa: N806

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from core import services
from core.cli import main
from core.clock import FixedClock
from core.config import load_settings
from core.domain import Regime
from core.models.torch_member import torch_available
from core.services import Context, set_context
from core.store import dispose_all

KEYS = ("accuracy", "balanced_accuracy", "roc_auc", "log_loss", "brier")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small training run shared by the tests of this module (a module-scoped context)."""
    tmp_path = tmp_path_factory.mktemp("train")
    settings = load_settings(
        config_file=None, env_file=str(tmp_path / "none.env"),
        store={"database_url": f"sqlite:///{tmp_path / 'm.db'}"}, log={"dir": str(tmp_path / "logs")},
    )  # fmt: skip
    context = Context.create(settings, clock=FixedClock(datetime(2024, 1, 2, tzinfo=UTC)))
    context.extras["models_dir"] = str(tmp_path / "models")
    set_context(context)
    steps = []
    res = services.train(
        ["AAPL", "MSFT"], 5, start="2010-01-01", n_splits=3, preset="tiny", regime_params={"k_regimes": 2, "fit_window": 500},
        importance_rows=100, importance_repeats=1, progress=lambda f, m: steps.append((f, m)),
    )  # fmt: skip
    yield res, steps, tmp_path, context
    set_context(None)
    dispose_all()


def test_report_is_out_of_sample_with_ns_cis_and_baselines(trained):
    res, steps, tmp_path, _ = trained
    assert len(res["folds"]) == 3
    for fold in res["folds"]:
        # Every test fold starts after the last training label ended: nothing in-sample is scored.
        assert fold["train"]["label_end"] < fold["test"]["start"]
        m = fold["metrics"]
        assert m["n"] == fold["test"]["n"] > 0
        for k in KEYS:
            assert m[k]["lo"] <= m[k]["value"] <= m[k]["hi"]
        assert set(fold["baselines"]) == {"majority", "coin_flip"}
    assert res["overall"]["n"] == sum(f["test"]["n"] for f in res["folds"])
    assert res["baselines"]["coin_flip"]["log_loss"]["value"] == pytest.approx(np.log(2))
    assert res["n_features"] >= 100 and res["importance"]
    fracs = [f for f, _ in steps]
    assert fracs == sorted(fracs) and fracs[-1] == 1.0
    assert (tmp_path / "models" / f"{res['model_id']}.joblib").exists()


def test_predict_and_the_models_page_data(trained):
    res, _, _, context = trained
    set_context(context)
    out = services.predict("AAPL")
    assert out["model_id"] == res["model_id"] and 0.0 <= out["p_up"] <= 1.0
    assert isinstance(out["regime"], Regime) and out["ts"].startswith("2013-03-01")
    # With the feed's own bars (the trading loop's call), the answer is for its last bar.
    bars = services.load_bars("MSFT").iloc[:-10]
    assert services.predict("MSFT", bars=bars)["ts"] == bars.index[-1].isoformat()
    with pytest.raises(ValueError, match="need at least 101 bars"):
        services.predict("MSFT", bars=bars.iloc[:50])
    models = services.list_models()
    assert models[0]["id"] == res["model_id"] and models[0]["symbols"] == ["AAPL", "MSFT"]
    rep = services.model_report()
    assert len(rep["calibration"]["prob_true"]) == len(rep["calibration"]["count"]) > 0
    assert sum(rep["calibration"]["count"]) == rep["overall"]["n"] == len(rep["oof"]["p"])
    tl = services.regime_timeline("AAPL")
    assert {"close", "regime", "p_turbulent", "drawdown"} <= set(tl.columns)
    hist = services.predict_history("IBM")  # a symbol the model never saw: regime fitted on a fixed prefix
    assert hist["p_up"].between(0, 1).all() and len(hist) > 3000
    # The last p_up of the history equals predict()'s: same rows of context either way.
    assert hist["p_up"].iloc[-1] == pytest.approx(services.predict("IBM")["p_up"], abs=1e-9)


def test_audit_of_the_trained_model_passes(trained):
    res, _, _, context = trained
    set_context(context)
    members = services.model_report()["params"]["ensemble"]["members"]
    assert ("torch" in members) == torch_available()  # the sequence member joins when PyTorch is installed
    rep = services.audit("MSFT", n_points=3)
    assert rep["ok"], rep["details"]
    assert rep["model_id"] == res["model_id"]


def test_cli_train_and_predict_json(ctx, tmp_path, capsys):
    ctx.extras["models_dir"] = str(tmp_path / "m")
    assert main(["predict", "--symbol", "AAPL"]) == 2
    assert "no trained model yet" in capsys.readouterr().err
    args = ["--symbols", "IBM", "--horizon", "3", "--folds", "2", "--preset", "tiny", "--start", "2011-01-01", "--no-regime", "--importance-rows", "0"]
    code = main(["train", *args, "--json"])
    assert code == 0
    res = json.loads(capsys.readouterr().out)
    assert res["horizon"] == 3 and res["overall"]["n"] > 0 and "majority" in res["baselines"]
    assert main(["predict", "--symbol", "IBM", "--json"]) == 0
    pred = json.loads(capsys.readouterr().out)
    assert pred["model_id"] == res["model_id"] and pred["regime"] is None
    assert main(["train", "--symbols", "", "--json"]) == 2
    # --sentiment adds the three news features (models.features.sentiment from the command line)
    assert res["sentiment"] is False and main(["train", *args, "--sentiment", "--json"]) == 0
    news = json.loads(capsys.readouterr().out)
    assert news["sentiment"] is True and news["n_features"] == res["n_features"] + 3
    assert set(services.load_model(news["model_id"]).columns) - set(services.load_model(res["model_id"]).columns) == {
        "news_count", "news_sentiment", "news_sentiment_ewm"}


def test_parallel_folds_give_the_same_report_as_sequential():
    from core.models.cv import PurgedWalkForward
    from core.models.dataset import build_dataset
    from core.models.ensemble import EnsembleClassifier
    from core.models.walkforward import walk_forward

    data = build_dataset({"IBM": services.load_bars("IBM", start="2011-06-01")}, horizon=3)
    model = EnsembleClassifier(members=("rf", "gb"), n_estimators=5, gb_max_iter=5)
    kw = {"overlap": 3, "importance_rows": 0, "fit_final": True}
    seq = walk_forward(data, model, PurgedWalkForward(3, embargo=3), n_jobs=1, **kw)
    par = walk_forward(data, model, PurgedWalkForward(3, embargo=3), n_jobs=2, **kw)
    assert par["oof"]["p"] == pytest.approx(seq["oof"]["p"], abs=1e-12)
    assert [f["metrics"] for f in par["folds"]] == [f["metrics"] for f in seq["folds"]]
    X = data.X.to_numpy()
    np.testing.assert_allclose(par["final_model"].predict_proba(X), seq["final_model"].predict_proba(X))
