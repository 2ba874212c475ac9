"""The main flows in a real headless chromium, with a screenshot per page under test-artifacts/."""

from __future__ import annotations

import pytest

from tests.ui.browser import ARGS, ARTIFACTS, CHROMIUM, require_browser, streamlit_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    require_browser()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    tmp = tmp_path_factory.mktemp("browser")
    env = {"APP__STORE__DATABASE_URL": f"sqlite:///{tmp / 'app.db'}", "APP__LOG__DIR": str(tmp / "logs")}
    with streamlit_server(env) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(30_000)
        page.goto(url)
        yield page, url
        browser.close()


def _wait_ready(page) -> None:
    page.wait_for_selector("h1", timeout=60_000)
    # streamlit shows a running indicator while a script executes
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"] [aria-label*=\"Running\" i]')", timeout=60_000)
    page.wait_for_timeout(800)


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_dashboard_shows_a_candlestick(browser_page):
    page, _ = browser_page
    _wait_ready(page)
    assert page.locator("h1", has_text="Dashboard").count() == 1
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    assert page.locator("text=Traceback").count() == 0
    _shot(page, "dashboard")


def test_settings_page_via_sidebar(browser_page):
    page, _ = browser_page
    page.get_by_role("link", name="Settings").click()
    page.wait_for_selector("h1:has-text('Settings')", timeout=60_000)
    _wait_ready(page)
    assert page.get_by_text("PAPER mode").count() >= 1
    assert page.locator("text=Traceback").count() == 0
    _shot(page, "settings")


def test_models_page_trains_and_shows_the_out_of_sample_report(browser_page, request):
    from tests.ui.browser import ROOT

    page, _ = browser_page
    models = ROOT / "data" / "models"  # the server's default model directory (git-ignored)
    before = set(models.glob("*.joblib")) if models.exists() else set()
    # Remove what this test trains once the whole run is over: later pages may use the model meanwhile.
    request.config.add_cleanup(lambda: [p.unlink(missing_ok=True) for p in set(models.glob("*.joblib")) - before])
    page.get_by_role("link", name="Models").click()
    page.wait_for_selector("h1:has-text('Models')", timeout=60_000)
    _wait_ready(page)
    page.get_by_role("button", name="Train").click()  # defaults: AAPL, preset tiny
    page.wait_for_selector("text=Saved", timeout=240_000)
    _wait_ready(page)
    page.wait_for_selector("text=Model versions", timeout=60_000)
    assert page.get_by_text("out-of-sample (walk-forward, purged, embargoed)").count() >= 1
    # Streamlit scrolls inside its own container, so a full-page shot only holds the viewport: make it tall
    # (charts below the fold are drawn only once visible).
    page.set_viewport_size({"width": 1440, "height": 3800})
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === 3", timeout=60_000)  # calibration, importance, regimes
    page.wait_for_timeout(1000)
    assert page.locator("text=Traceback").count() == 0
    _shot(page, "models")
    page.set_viewport_size({"width": 1440, "height": 1000})
