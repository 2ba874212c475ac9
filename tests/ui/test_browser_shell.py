"""The shell in a real chromium: cold deep links, the status strip in each loop state, resume after a restart
without a browser, a refused setting and per-row cancel. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from tests.ui.browser import ARGS, ARTIFACTS, CHROMIUM, require_browser, streamlit_server

pytestmark = pytest.mark.browser

PAGES = {"": "Dashboard", "trading": "Trading", "portfolio": "Portfolio", "backtest": "Backtest", "models": "Models", "risk": "Risk",
         "news": "News", "settings": "Settings"}
TIMES = ARTIFACTS / "load-times.json"


def _env(tmp, **extra) -> dict[str, str]:
    return {"APP__STORE__DATABASE_URL": f"sqlite:///{tmp / 'app.db'}", "APP__LOG__DIR": str(tmp / "logs"), "APP__SCHEDULER__TICK_SECONDS": "1",
            "APP__TRADING__STRATEGY": "sma_cross", "APP__TRADING__SYMBOLS": '["AAPL", "MSFT"]', "APP__TRADING__WARMUP_BARS": "100",
            "APP__TRADING__BARS_PER_TICK": "5", "APP__DATA__MODELS_DIR": str(tmp / "models"), **extra}


def _ctx(tmp):
    """A context in the test process on the server's database (to set up and to read what the server did)."""
    from core.config import load_settings
    from core.services import Context

    settings = load_settings(config_file=None, env_file=str(tmp / "none.env"), store={"database_url": f"sqlite:///{tmp / 'app.db'}"},
                             log={"dir": str(tmp / "logs")}, scheduler={"embedded": False, "tick_seconds": 1},
                             trading={"strategy": "sma_cross", "symbols": ["AAPL", "MSFT"], "warmup_bars": 100, "bars_per_tick": 5})
    return Context.create(settings)


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _ready(page) -> None:
    page.wait_for_selector("h1", timeout=60_000)
    page.wait_for_selector("[data-testid=stSidebar] >> text=Loop:", timeout=60_000)  # the shell, not only the page
    page.locator("[data-testid=stSidebar]").get_by_text("Paper trading", exact=True).wait_for(timeout=60_000)  # widgets load lazily
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"] [aria-label*=\"Running\" i]')", timeout=60_000)


def _load(browser, url: str) -> tuple[object, float]:
    """Open ``url`` in a new session; return the page and the seconds until its script finished."""
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(60_000)
    t0 = time.monotonic()
    page.goto(url)
    _ready(page)
    return page, time.monotonic() - t0


def _shot(page, name: str) -> None:
    page.wait_for_timeout(600)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _strip(page) -> str:
    return page.locator("[data-testid=stSidebar]").inner_text()


@pytest.mark.parametrize("path", list(PAGES))
def test_cold_deep_link_shows_the_full_shell(browser, tmp_path, path):
    title = PAGES[path]
    with streamlit_server(_env(tmp_path)) as url:
        page, cold = _load(browser, f"{url}/{path}")
        assert page.locator("h1", has_text=title).count() >= 1
        nav = page.locator("[data-testid=stSidebarNav]").inner_text()
        assert "Dashboard" in nav and "Settings" in nav and "\napp\n" not in f"\n{nav}\n"  # st.navigation, not the pages/ folder
        assert page.locator("[data-testid=stSidebar]").get_by_text("Paper trading", exact=True).count() == 1
        assert "Loop:" in _strip(page) and "Strategy" in _strip(page)
        assert page.locator("[data-testid='stException']").count() == 0
        _shot(page, f"cold-{path or 'dashboard'}")
        page.close()
        page, warm = _load(browser, f"{url}/{path}")
        page.close()
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    times[title] = {"cold_s": round(cold, 2), "warm_s": round(warm, 2)}
    TIMES.write_text(json.dumps(times, indent=1, sort_keys=True))


def _wait_db(ctx, check, timeout: float = 60.0):
    from core.trading import toggle

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = toggle.loop_status(ctx.store)
        if check(status):
            return status
        time.sleep(0.5)
    raise AssertionError(f"timed out; loop status {toggle.loop_status(ctx.store)}")


def test_strip_states_and_resume_after_restart_without_a_browser(browser, tmp_path):
    from core.risk.state import RiskState
    from core.trading import toggle
    from core.trading.lease import Lease

    ctx = _ctx(tmp_path)
    env = _env(tmp_path, APP__TRADING__WARMUP_BARS="3000")  # ~270 bars left: about a minute of replay, then the end of the data
    toggle.set_enabled(ctx.store, True)
    other = Lease(ctx.store, "account:paper", "other-host:4242:abc", ttl=timedelta(hours=1))
    assert other.acquire()
    with streamlit_server(env) as url:
        page, _ = _load(browser, url)
        page.wait_for_selector("text=held by other-host:4242:abc", timeout=30_000)
        assert "waiting for the lease" in _strip(page)
        _shot(page, "strip-waiting-for-lease")
        other.release()
        page.wait_for_selector("[data-testid=stSidebar] >> text=running", timeout=60_000)
        page.wait_for_selector("[data-testid=stSidebar] >> text=replay of bundled history at", timeout=60_000)  # the first bar released
        assert "5 bars/tick" in _strip(page)
        _shot(page, "strip-running")
        page.close()
        _wait_db(ctx, lambda s: s.get("last_tick_at"))
    stopped_at = time.time()
    first = toggle.loop_status(ctx.store)  # what the stopped server last did
    assert Lease(ctx.store, "account:paper").current() is None  # the stopped server gave its lease up
    last_bar = first["last_bar"]
    with streamlit_server(env) as url:
        # no page opened: the server's own start-up resumes the loop
        resumed = _wait_db(ctx, lambda s: s.get("last_bar") and s["last_bar"] > last_bar and s.get("last_tick_at", "") > first["last_tick_at"], 60)
        assert time.time() - stopped_at < 60  # not the ~90 s lease expiry
        assert resumed["host"] != first["host"]
        page, _ = _load(browser, url)
        page.wait_for_selector("[data-testid=stSidebar] >> text=running", timeout=30_000)
        RiskState(ctx.store, ctx.clock).set_kill_switch(True, "browser-test", "drill")
        page.wait_for_selector("text=Trading halted: kill switch engaged by browser-test (drill).", timeout=30_000)
        # The banner and the strip are two fragments on their own 5 s timers: wait for the strip too.
        page.wait_for_selector("[data-testid=stSidebar] >> text=kill switch engaged by browser-test (drill)", timeout=30_000)
        assert "halted" in _strip(page) and "kill switch engaged by browser-test (drill)" in _strip(page)
        _shot(page, "strip-halted-kill-switch")
        RiskState(ctx.store, ctx.clock).set_kill_switch(False, "browser-test")
        # the loop replays on to the end of the data and says so
        page.wait_for_selector("[data-testid=stSidebar] >> text=data exhausted", timeout=90_000)
        assert "the replay has released its last bar" in _strip(page)
        page.wait_for_selector("text=The replay has run out of bars", timeout=30_000)
        _shot(page, "strip-exhausted")
        page.close()


def test_refused_setting_and_per_row_cancel(browser, tmp_path):
    from core import services

    ctx = _ctx(tmp_path)
    queued = services.queue_manual_order({"symbol": "AAPL", "side": "buy", "quantity": 1, "order_type": "limit", "limit_price": 10.0,
                                          "order_class": "bracket", "take_profit": 12.0, "stop_loss": 9.0}, ctx=ctx)
    assert queued["queued"], queued["reason"]
    with streamlit_server(_env(tmp_path)) as url:
        page, _ = _load(browser, f"{url}/settings")
        box = page.get_by_label("Max position (% of equity)")
        box.fill("-5")
        page.get_by_role("button", name="Save risk limits").click()
        page.wait_for_selector("text=Not saved: Max position (% of equity) = -5: must be above 0 (risk.max_position_pct)", timeout=30_000)
        _ready(page)
        assert page.get_by_text("Risk limits saved").count() == 0
        assert services.risk_limits(ctx).max_position_pct == 0.05
        _shot(page, "settings-refused")
        page.reload()
        _ready(page)
        assert page.get_by_label("Max position (% of equity)").input_value() == "5.00"  # what the engine uses
        page.close()

        page, _ = _load(browser, f"{url}/trading")
        row = page.get_by_text("limit 10.00 · take-profit 12.00 · stop-loss 9.00")
        row.wait_for(timeout=30_000)
        row.scroll_into_view_if_needed()
        _shot(page, "trading-open-orders")
        page.locator(f".st-key-tr_cancel_{queued['client_order_id']} button").first.click()
        page.wait_for_selector("text=No open or queued orders.", timeout=30_000)
        assert services.pending_manual_orders(ctx) == []
        page.close()
