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
