"""No raw value on any page: no None, NaN, ISO timestamp with +00:00 or Python repr in any text, metric or table cell.

Every page is rendered through AppTest with a store that has paper history (the loop over
bundled bars), a trained model, a backtest and a risk preview on screen.
"""

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.populate import populate_paper
from tests.ui.screen_text import RAW, raw_values_on_screen

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = ["pages/dashboard.py", "pages/trading.py", "pages/portfolio.py", "pages/backtest.py", "pages/models.py", "pages/risk.py",
         "pages/news.py", "pages/settings.py"]


# pages with lazy tabs (ui.common.lazy_tabs): the tabs' key and every view but the first, whose content runs only when open
VIEWS = {"pages/risk.py": ("risk_view", ("Research", "Audit log")), "pages/portfolio.py": ("portfolio_view", ("Performance", "Trades"))}


def _other_views_show_no_raw_value(at, page: str) -> None:
    key, views = VIEWS.get(page, ("", ()))
    for view in views:
        at.session_state[key] = view
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert raw_values_on_screen(at) == [], view


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    from core import services
    from core.config import load_settings
    from core.services import Context, set_context

    tmp = tmp_path_factory.mktemp("screen")
    settings = load_settings(config_file=None, env_file=str(tmp / "none.env"), store={"database_url": f"sqlite:///{tmp / 'p.db'}"},
                             log={"dir": str(tmp / "logs")}, scheduler={"embedded": False}, data={"models_dir": str(tmp / "models")})
    ctx = Context.create(settings)
    set_context(ctx)
    try:
        populate_paper(ctx)
        services.train(["AAPL"], horizon=5, preset="tiny", members=("rf",), n_splits=3, importance_rows=200, ctx=ctx)
    finally:
        set_context(None)
    return ctx


def test_the_detector_catches_each_kind_of_raw_value():
    """The check itself: each raw form is caught, the formatted forms are not."""
    for raw in ("None", "nan", "NaT", "2004-01-02 00:00:00+00:00", "2004-01-02T00:00:00", "<Order object at 0x7f>", "Timestamp('2004-01-02')",
                "np.float64(0.5)", "{'a': 1}"):
        assert RAW.search(raw), raw
    for fine in ("2004-01-02", "2004-01-02 14:30 UTC", "—", "5.00 %", "Nonetheless", "finance", "n/a"):
        assert not RAW.search(fine), fine
    from tests.ui.screen_text import _frame_problems

    frame = pd.DataFrame({"a": [1.0, None], "t": pd.to_datetime(["2004-01-02", "2004-01-05"], utc=True), "s": ["ok", "None"]})
    problems = list(_frame_problems(frame, {}))
    assert len(problems) == 3 and "missing" in problems[0] and "+00:00" in problems[1] and "'None'" in problems[2]
    assert len(list(_frame_problems(frame[["t"]], {"t": {"type_config": {"type": "datetime", "format": "YYYY-MM-DD"}}}))) == 0


def test_percentages_share_one_format():
    from core.services import format_pct

    assert format_pct(0.0512) == "5.12 %" and format_pct(-0.25, 1, sign=True) == "-25.0 %" and format_pct(0.1, 0, sign=True) == "+10 %"
    assert format_pct(None) == format_pct(float("nan")) == "—"


@pytest.mark.parametrize("page", PAGES)
def test_no_raw_value_on_a_fresh_store(ctx, page):
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    assert raw_values_on_screen(at) == []
    _other_views_show_no_raw_value(at, page)


@pytest.mark.parametrize("page", PAGES)
def test_no_raw_value_on_screen(populated, page):
    from core.services import set_context

    set_context(populated)
    try:
        at = AppTest.from_file(APP, default_timeout=120)
        at.switch_page(page).run()
        assert not at.exception, [e.message for e in at.exception]
        if page == "pages/backtest.py":
            at.button(key="bt_run").click().run()
        if page == "pages/trading.py":
            at.button(key="tk_preview").click().run()
        assert not at.exception, [e.message for e in at.exception]
        assert raw_values_on_screen(at) == []
        _other_views_show_no_raw_value(at, page)
    finally:
        set_context(None)
