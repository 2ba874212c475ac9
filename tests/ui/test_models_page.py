"""The Models page through streamlit's AppTest: empty state, training from the page, the report and versions."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.settle import settle, workers_held

APP = str(Path(__file__).resolve().parents[2] / "app.py")
OOS = "out-of-sample (walk-forward, purged, embargoed)"


@pytest.fixture
def app(ctx, tmp_path):
    ctx.extras["models_dir"] = tmp_path / "models"
    return AppTest.from_file(APP, default_timeout=120)


def test_fresh_store_shows_the_empty_state_with_the_train_button(app):
    app.switch_page("pages/models.py").run()
    assert not app.exception
    assert app.title[0].value == "Models"
    assert any("No model yet — train one" in i.value for i in app.info)
    assert app.button(key="models_train").disabled is False
    assert app.selectbox(key="models_preset").value == "tiny"
    assert app.multiselect(key="models_symbols").value == ["AAPL"]
    assert len(app.dataframe) == 0  # no scores of any kind before a model exists


def test_train_from_the_page_then_report_against_baselines_and_list_the_version(app, ctx):
    from core import services

    app.switch_page("pages/models.py").run()
    # Small and quick: one symbol, one member, three folds (the page's presets are the same code path).
    app.multiselect(key="models_members").set_value(["rf"])
    app.number_input(key="models_folds").set_value(3)
    app.button(key="models_train").click().run()
    assert not app.exception, app.exception
    settle(app)
    assert not app.exception, app.exception
    assert not app.error

    runs = services.list_models(ctx=ctx)
    assert len(runs) == 1 and runs[0]["symbols"] == ["AAPL"] and runs[0]["horizon"] == 5
    model_id = runs[0]["id"]
    assert list((ctx.extras["models_dir"]).iterdir())  # the model file went under tmp
    assert any(model_id in s.value for s in app.success)
    assert not any("No model yet" in i.value for i in app.info)

    report = services.model_report(model_id)
    assert report["params"]["preset"] == "tiny" and report["n_folds"] == 3
    frames = [d.value for d in app.dataframe]
    metrics = next(f for f in frames if "ensemble 95% CI" in f.columns)
    # n and CI columns beside the two baselines, for every headline metric
    assert {"n", "n_eff", "majority class", "majority 95% CI", "coin flip", "coin flip 95% CI"} <= set(metrics.columns)
    assert list(metrics["metric"]) == ["ROC AUC", "accuracy", "balanced accuracy", "log loss", "Brier score"]
    overall = report["overall"]
    assert (metrics["n"] == overall["n"]).all()
    auc = metrics.set_index("metric").loc["ROC AUC"]
    assert auc["ensemble"] == pytest.approx(overall["roc_auc"]["value"], abs=1e-4)
    assert auc["ensemble 95% CI"] == f"[{overall['roc_auc']['lo']:.3f}, {overall['roc_auc']['hi']:.3f}]"
    assert auc["coin flip"] == 0.5  # a coin flip ranks nothing: AUC 0.5 by definition
    acc = metrics.set_index("metric").loc["accuracy"]
    # the majority baseline's accuracy is the share of the majority class among the test labels it predicts
    y = report["oof"]["y"]
    share_up = sum(y) / len(y)
    assert acc["majority class"] == pytest.approx(report["baselines"]["majority"]["accuracy"]["value"], abs=1e-4)
    assert min(share_up, 1 - share_up) - 1e-4 <= acc["majority class"] <= max(share_up, 1 - share_up) + 1e-4
    # the model's overall n is the number of out-of-sample predictions: the test folds, nothing in-sample
    assert metrics["n"].iloc[0] == len(y) == sum(f["test"]["n"] for f in report["folds"])

    folds = next(f for f in frames if "fold" in f.columns)
    assert list(folds["fold"]) == [1, 2, 3] and list(folds["test n"]) == [f["test"]["n"] for f in report["folds"]]
    versions = next(f for f in frames if "id" in f.columns)
    assert list(versions["id"]) == [model_id] and "n (out-of-sample)" in versions.columns
    assert app.selectbox(key="models_pick").value == model_id
    # honesty labels: the page says where every score comes from
    assert any(OOS in m.value for m in app.markdown)
    assert sum(1 for m in app.metric if "out-of-sample" in m.label) == 2
    # the verdict in words, from the AUC's interval against a coin flip
    level, verdict = services.edge_verdict(overall["roc_auc"])
    shown = [w.value for w in (app.success if level == "edge" else app.warning)]
    assert verdict in shown
    lo, hi = overall["roc_auc"]["lo"], overall["roc_auc"]["hi"]
    assert verdict.startswith({True: "Evidence of an edge", False: "No evidence of an edge" if lo <= 0.5 <= hi else "Worse than a coin flip"}[lo > 0.5])
    # calibration, importance and the regime band chart
    assert len(app.get("plotly_chart")) == 3

    app.button(key="models_audit").click().run()  # the audit runs in the background: the click returns at once
    assert not app.exception
    settle(app)
    assert any("No leakage in AAPL" in s.value for s in app.success)

    # A model file lost from disk: the page says what to do instead of showing a traceback.
    (Path(ctx.extras["models_dir"]) / f"{model_id}.joblib").unlink()
    ctx.extras.pop("model_cache", None)
    app.run()
    assert not app.exception
    assert any("is missing" in e.value and "Train a new model" in e.value for e in app.error)


def test_training_runs_in_the_background_with_progress_while_the_page_stays_usable(app, ctx, tmp_path):
    from core import services

    first = services.train(["AAPL"], 5, preset="tiny", members=("rf",), n_splits=3, importance_rows=0, ctx=ctx)["model_id"]  # on show meanwhile
    app.switch_page("pages/models.py").run()
    app.multiselect(key="models_members").set_value(["rf"])
    app.number_input(key="models_folds").set_value(3)
    with workers_held(tmp_path):  # the training waits for a worker process until the block ends: "running" for certain
        app.button(key="models_train").click().run()  # the script run returned while the training has not finished
        assert not app.exception, app.exception
        task = services.task(app.session_state["models_training"])
        assert task is not None and task.running
        assert [p.proto.text.split(":")[0] for p in app.get("progress")] == ["Training on AAPL"]  # the progress indicator
        assert app.button(key="models_train").disabled  # one training per session at a time
        # the page stays usable: the leakage audit runs and reports while the training is pending
        app.button(key="models_audit").click().run()
        assert not app.exception, app.exception
        assert services.task(app.session_state["models_audit_task"]).wait(120)  # a thread of the server: not queued behind the workers
        app.run()
        assert any("No leakage in AAPL" in s.value for s in app.success)
        assert task.running and len(services.list_models(ctx=ctx)) == 1
    settle(app)  # completion later: the page shows the saved model and selects it
    assert not app.exception, app.exception
    assert task.state == "done" and not app.get("progress")
    new = task.result["model_id"]
    assert sorted(r["id"] for r in services.list_models(ctx=ctx)) == sorted([first, new])
    assert any(f"Saved **{new}**" in s.value for s in app.success)
    panel = next(e for e in app.expander if e.label == "Train a new model")
    assert panel.proto.expanded and any(f"Saved **{new}**" in s.value for s in panel.success)  # the line is in the open panel, not a collapsed one
    assert app.selectbox(key="models_pick").value == new
    assert not app.button(key="models_train").disabled


def test_news_sentiment_option_trains_a_model_with_the_news_features(app, ctx):
    from core import services

    assert ctx.settings.models.features.sentiment is False
    app.switch_page("pages/models.py").run()
    assert app.checkbox(key="models_sentiment").value is False  # models.features.sentiment
    app.multiselect(key="models_members").set_value(["rf"])
    app.number_input(key="models_folds").set_value(3)
    app.checkbox(key="models_sentiment").check().run()
    app.button(key="models_train").click().run()
    assert not app.exception, app.exception
    settle(app)
    art = services.load_model(services.list_models(ctx=ctx)[0]["id"], ctx)
    assert {"news_count", "news_sentiment", "news_sentiment_ewm"} <= set(art.columns) and art.feature_config.extra.get("sentiment")
