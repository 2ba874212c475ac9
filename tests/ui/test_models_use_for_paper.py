"""The Models page's "Use this model for paper trading": accepted for a model trained before the session, refused for an overlapping one."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import load_settings
from core.services import Context, set_context

APP = str(Path(__file__).resolve().parents[2] / "app.py")
WARMUP = 400  # the session trades AAPL's bars from index 400 on; the embargo is 5 bars


@pytest.fixture
def ctx(tmp_path, sqlite_url):
    settings = load_settings(
        config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": sqlite_url}, log={"dir": str(tmp_path / "logs")},
        scheduler={"embedded": False}, data={"models_dir": str(tmp_path / "models")},
        trading={"strategy": "ensemble", "symbols": ["AAPL"], "warmup_bars": WARMUP, "bars_per_tick": 5},
    )  # fmt: skip
    context = Context.create(settings)
    set_context(context)
    yield context
    set_context(None)


def _train(ctx, rows: int) -> str:
    from core import services

    bars = {"AAPL": ctx.sample.bars("AAPL").iloc[:rows]}
    return services.train(["AAPL"], horizon=5, preset="tiny", members=("rf",), n_splits=3, bars=bars, regime=False, importance_rows=0,
                          ctx=ctx)["model_id"]  # fmt: skip


def _use(app: AppTest, model_id: str) -> AppTest:
    app.selectbox(key="models_pick").set_value(model_id).run()
    app.button(key="models_use_paper").click().run()
    assert not app.exception, app.exception
    return app


def test_use_for_paper_pins_a_model_trained_before_the_session_and_refuses_an_overlapping_one(ctx):
    from core.models.registry import get_run

    calendar = ctx.sample.bars("AAPL").index
    early = _train(ctx, WARMUP - 5)  # last training bar: index 394 = first traded bar (400) - 1 - embargo 5 -> allowed
    late = _train(ctx, WARMUP + 100)  # ends at index 499, inside the traded bars
    assert get_run(ctx.store, early).data_end.date() == calendar[WARMUP - 6].date()

    app = AppTest.from_file(APP, default_timeout=120)
    app.switch_page("pages/models.py").run()
    assert not app.exception, app.exception

    _use(app, late)
    refused = [e.value for e in app.error]
    assert len(refused) == 1 and refused[0].startswith("Not pinned:")
    # the message names the model, both dates and the embargo, read off the bundled calendar by hand
    assert late in refused[0] and "overlaps the session's traded bars" in refused[0] and "embargo of 5 bars" in refused[0]
    assert f"{calendar[WARMUP + 99]:%Y-%m-%d}" in refused[0] and f"from {calendar[WARMUP]:%Y-%m-%d}" in refused[0]
    assert ctx.store.get_setting("loop.paper.session") is None  # a refusal stores nothing

    _use(app, early)
    assert not app.error
    assert any(early in s.value and "from the session's first traded bar" in s.value for s in app.success)
    session = ctx.store.get_setting("loop.paper.session")
    assert session["strategy"] == "ensemble" and session["params"]["model_id"] == early and session["params"]["model_schedule"] == []
    assert any(f"model {early} pinned" in a.message for a in ctx.store.audit_log(kind="models"))

    # Once pinned, an overlapping model stays refused and the session keeps the pinned one; the page says which one it trades.
    _use(app, late)
    assert any("overlaps the session's traded bars" in e.value for e in app.error)
    assert ctx.store.get_setting("loop.paper.session")["params"]["model_id"] == early
    app.selectbox(key="models_pick").set_value(early).run()
    assert any(f"The paper session trades **{early}**" in c.value for c in app.caption)


def test_a_model_pinned_after_bars_were_traded_takes_over_from_the_next_bar(ctx):
    from core import services
    from core.trading import toggle

    first = _train(ctx, WARMUP - 5)
    second = _train(ctx, WARMUP - 20)
    assert services.use_model_for_paper(first, ctx=ctx)["session_started"]
    toggle.set_enabled(ctx.store, True)
    loop = services.trading_loop(ctx)
    loop.tick()
    last = ctx.store.get_setting("loop.paper.last_bar")
    assert loop.strategy.params["model_id"] == first and last is not None

    done = services.use_model_for_paper(second, ctx=ctx)
    assert done["effective_after"] == last and not done["session_started"]
    params = ctx.store.get_setting("loop.paper.session")["params"]
    assert params["model_id"] == first and params["model_schedule"] == [[last, second]]  # traded bars keep their model
    rebuilt = services.trading_loop(ctx)
    rebuilt.tick()
    assert rebuilt.strategy._artifact_at(rebuilt.last_processed).model_id == second
