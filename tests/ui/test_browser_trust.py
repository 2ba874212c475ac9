"""Forecast-driven exposure and model health in a real headless chromium (screenshots under test-artifacts/)."""

from __future__ import annotations

import pytest

from tests.ui.browser import ARGS, ARTIFACTS, CHROMIUM, require_browser, streamlit_server
from tests.ui.test_browser import _shot, _visit, _wait_ready

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    require_browser()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    tmp = tmp_path_factory.mktemp("browser_trust")
    env = {"APP__STORE__DATABASE_URL": f"sqlite:///{tmp / 'app.db'}", "APP__LOG__DIR": str(tmp / "logs"), "APP__SCHEDULER__EMBEDDED": "false",
           "APP__DATA__MODELS_DIR": str(tmp / "models")}  # fmt: skip
    _train(tmp)
    with streamlit_server(env) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(url)
        yield page, url
        browser.close()


def _train(tmp) -> None:
    """Store one small model trained up to 2009, so the bars after it are its live bars."""
    from core import services
    from core.config import load_settings
    from core.services import Context

    settings = load_settings(config_file=None, env_file=str(tmp / "none.env"), store={"database_url": f"sqlite:///{tmp / 'app.db'}"},
                             log={"dir": str(tmp / "logs")}, scheduler={"embedded": False}, data={"models_dir": str(tmp / "models")})  # fmt: skip
    ctx = Context.create(settings)
    bars = {"AAPL": services.load_bars("AAPL", ctx=ctx).loc[:"2009-12-31"]}
    services.train(["AAPL"], bars=bars, preset="tiny", members=("rf",), n_splits=3, regime=False, importance_rows=0, ctx=ctx)


def test_risk_page_runs_the_forecast_backtest(browser_page):
    page, _ = browser_page
    _visit(page, "Risk")
    page.get_by_role("tab", name="Research").click()
    _wait_ready(page)
    page.get_by_role("textbox", name="From", exact=True).fill("2008-09-01")
    page.get_by_role("textbox", name="To", exact=True).fill("2008-12-31")
    page.get_by_role("textbox", name="To", exact=True).press("Enter")
    _wait_ready(page)
    page.get_by_role("button", name="Run the forecast backtest").click()
    page.wait_for_selector("text=forecast vs realised", timeout=180_000)
    _wait_ready(page)
    assert page.locator("[data-testid='stException']").count() == 0
    _shot(page, "risk_forecast")


def test_models_page_checks_the_model_health(browser_page):
    page, _ = browser_page
    _visit(page, "Models")
    page.get_by_role("button", name="Check model health now").click()
    page.wait_for_selector("text=Hit rate (live)", timeout=180_000)
    _wait_ready(page)
    assert page.locator("[data-testid='stException']").count() == 0
    _shot(page, "models_health")
