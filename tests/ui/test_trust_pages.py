"""Model health, the retrain job, the sentiment ablation and forecast exposure in the app (AppTest)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.settle import settle

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def app(ctx, tmp_path):
    ctx.extras["models_dir"] = tmp_path / "models"
    return AppTest.from_file(APP, default_timeout=300)


@pytest.fixture
def model(ctx):
    from core import services

    bars = {"AAPL": services.load_bars("AAPL").loc[:"2009-12-31"]}  # bars after 2009 are the model's "live" bars
    return services.train(["AAPL"], bars=bars, preset="tiny", members=("rf",), n_splits=3, regime=False, importance_rows=0, ctx=ctx)["model_id"]


def test_models_page_checks_health_raises_the_alarm_and_the_dashboard_shows_it(app, ctx, model):
    from core import services

    ctx.settings.models.drift.psi_max = 1e-9  # bounds no live window meets: the alarm must go on
    ctx.settings.models.drift.psi_share = 0.01
    app.switch_page("pages/models.py").run()
    assert not app.exception
    assert any(m.label == "Next run (UTC)" for m in app.metric)
    assert any(m.label == "Replaced the pinned model" and m.value == "no" for m in app.metric)
    app.button(key="models_health_check").click().run()
    assert not app.exception, app.exception
    rep = services.health_status(ctx)["health"]
    assert rep["model_id"] == model and rep["alarm"] and rep["n_live"] == services.model_health(ctx=ctx)["n_live"] > 0
    assert any("Model health alarm" in e.value for e in app.error)
    hit = next(m for m in app.metric if m.label == "Hit rate (live)")
    assert hit.value == f"{rep['hit_rate'] * 100:.1f} %"
    assert [r.kind for r in ctx.store.audit_log(kind="model_drift")] == ["model_drift"]
    app.switch_page("pages/dashboard.py").run()
    assert not app.exception
    assert any("Model health alarm" in e.value and model in e.value for e in app.error)


def test_models_page_runs_the_sentiment_ablation(app, ctx):
    app.switch_page("pages/models.py").run()
    app.multiselect(key="models_ablation_symbols").set_value(["AAPL"])
    app.button(key="models_ablation_run").click().run()
    settle(app)
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    table = next(d.value for d in app.dataframe if "features" in d.value.columns)
    assert list(table["features"]) == ["without", "with"]
    rep = app.session_state["models_ablation"]
    assert (table["n"] == rep["with"]["n"]).all() and rep["with"]["n"] == rep["without"]["n"] > 1000
    assert any("with − without" in m.value for m in app.markdown)


def test_risk_page_shows_forecast_vs_realised_with_kupiec_and_christoffersen(app, ctx):
    from core import services

    app.switch_page("pages/risk.py").run()
    assert not app.exception
    app.session_state["risk_view"] = "Research"  # the tab a user clicks
    app.run()
    app.selectbox(key="risk_fx_symbol").set_value("SPX")
    app.text_input(key="risk_fx_start").set_value("2008-09-01")
    app.text_input(key="risk_fx_end").set_value("2008-10-31")
    app.button(key="risk_fx_run").click().run()
    settle(app)
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    table = next(d.value for d in app.dataframe if "breaches of" in d.value.columns)
    ref = services.forecast_exposure("SPX", "2008-09-01", "2008-10-31", ctx=ctx)
    row = table[(table["book"] == "unscaled") & (table["breaches of"] == "vs budget")].iloc[0]
    u = ref["unscaled"]["vs_budget"]
    assert row["breaches"] == f"{u['breaches']}/{u['n']}" and row["Kupiec p"] == round(u["kupiec_p"], 4)
    assert row["Christoffersen ind p"] == round(u["ind_p"], 4)
    assert len(table) == 4


def test_models_page_shows_the_retrain_jobs_last_run_result_model_and_rule(app, ctx, monkeypatch):
    from core import services

    ctx.store.set_setting("loop.paper.session", {"symbols": ["AAPL"], "timeframe": "1d", "strategy": "ensemble", "params": {"model_id": "old"}})
    ctx.store.set_setting("loop.paper.last_bar", "2003-06-30T00:00:00+00:00")
    monkeypatch.setattr("core.services.models.train", lambda *a, **k: {"model_id": "m2", "overall": {"log_loss": {"value": 0.1}}})
    services.retrain_for_loop(ctx)  # rule 'never' (models.replace_rule): trained, not swapped in
    status = services.retrain_status(ctx)
    app.switch_page("pages/models.py").run()
    assert not app.exception
    metric = {m.label: m for m in app.metric}
    assert metric["Last run"].value == status["last_run"][:19].replace("T", " ") and metric["Last run"].delta == "ok"
    assert metric["Model produced"].value == "m2"
    assert metric["Replaced the pinned model"].value == "no" and metric["Replaced the pinned model"].delta == "rule: never"
    assert metric["Next run (UTC)"].value == status["next_run"][5:16].replace("T", " ")
    assert any("rule 'never'" in c.value for c in app.caption)
