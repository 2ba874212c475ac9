"""Sign-in in a real chromium: a server bound to 0.0.0.0 (reached via 127.0.0.1) and one on loopback.

Most servers run ``server.py`` (what ``make run`` serves); one runs ``streamlit run app.py`` itself, the
command the README and the issue name. Screenshots: test-artifacts/auth-*.png.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest

from tests.ui.browser import ARGS, ARTIFACTS, CHROMIUM, free_port, full_page_screenshot, require_browser, streamlit_server

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
PAGES = ["risk", "", "dashboard", "trading", "portfolio", "backtest", "models", "news", "settings"]


def _context(tmp, **auth):
    from core.config import load_settings
    from core.services import Context

    settings = load_settings(config_file=None, env_file=str(tmp / "none.env"), store={"database_url": f"sqlite:///{tmp / 'app.db'}"},
                             log={"dir": str(tmp / "logs")}, scheduler={"embedded": False}, auth=auth)
    return Context.create(settings)


def _env(tmp, **extra: str) -> dict[str, str]:
    return {"APP__STORE__DATABASE_URL": f"sqlite:///{tmp / 'app.db'}", "APP__LOG__DIR": str(tmp / "logs"),
            "APP__SCHEDULER__EMBEDDED": "false", "APP__DATA__MODELS_DIR": str(tmp / "models"), **extra}


@contextmanager
def _browser(env, address, **server):
    require_browser()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(env, address=address, **server) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()  # a context: tests open more tabs with its cookies
        page.set_default_timeout(30_000)
        frames: list[bytes] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda p: frames.append(p if isinstance(p, bytes) else p.encode())))
        try:
            yield page, url, frames
        finally:
            browser.close()


def _settle(page, heading: str) -> None:
    page.wait_for_selector(f"h1:has-text('{heading}')", timeout=60_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"] [aria-label*=\"Running\" i]')", timeout=60_000)
    page.wait_for_timeout(600)


def _headings(page) -> list[str]:
    return [h.strip() for h in page.locator("h1").all_inner_texts()]


def test_exposed_server_without_auth_serves_only_the_setup_screen(tmp_path):
    _context(tmp_path)  # an empty, migrated store
    with _browser(_env(tmp_path), "0.0.0.0") as (page, url, _):
        for i, path in enumerate(PAGES):  # /risk first: the first request of a fresh server process
            page.goto(f"{url}/{path}")
            _settle(page, "Configure authentication")
            assert len(_headings(page)) == 1 and "Configure authentication" in _headings(page)[0], (path, _headings(page))
            assert page.get_by_text("python -m core auth set-password").count() >= 1
            assert page.get_by_text("Paper trading").count() == 0 and page.get_by_test_id("stCheckbox").count() == 0
            assert page.locator("[data-testid=stSidebarNav]").count() == 0 and page.locator("[data-testid=stSidebarUserContent]").count() == 0
            assert page.locator("[data-testid=stDataFrame]").count() == 0 and page.locator(".js-plotly-plot").count() == 0
            if i == 0:
                page.screenshot(path=str(ARTIFACTS / "auth-setup.png"), full_page=True)


# Text only the app's pages put on the wire: none of it may reach a browser that has not signed in.
PAGE_TEXT = [b"Paper trading", b"Kill switch", b"Risk limits", b"Queue order", b"Train", b"Equity", b"Mode:"]


def test_streamlit_run_app_py_on_every_interface_serves_only_the_setup_screen(tmp_path):
    """`streamlit run app.py --server.address 0.0.0.0`, fresh: unlike server.py, app.py leaves Streamlit's legacy pages/ mode on
    until the first script run, so /risk as the very first request takes the pages/ back door that ui/__init__.py closes."""
    _context(tmp_path)
    urls = ["risk", "Trading", "settings", "SETTINGS", "models?symbol=AAPL", "no-such-page", ""]
    with _browser(_env(tmp_path), "0.0.0.0", script="app.py") as (page, url, frames):
        for path in urls:
            frames.clear()
            page.goto(f"{url}/{path}")
            _settle(page, "Configure authentication")
            assert len(_headings(page)) == 1 and "Configure authentication" in _headings(page)[0], (path, _headings(page))
            assert page.get_by_text("python -m core auth set-password").count() >= 1 and page.get_by_text("every network interface").count() == 0
            assert page.get_by_test_id("stCheckbox").count() == 0 and page.locator("[data-testid=stSidebarNav]").count() == 0
            assert page.locator("[data-testid=stDataFrame]").count() == 0 and page.locator(".js-plotly-plot").count() == 0
            wire = b"".join(frames)
            assert wire and not [t for t in PAGE_TEXT if t in wire], (path, [t for t in PAGE_TEXT if t in wire])
            if path == "Trading":
                page.screenshot(path=str(ARTIFACTS / "auth-setup-app-py-trading.png"), full_page=True)


def _submit(page, password: str) -> None:
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"] [aria-label*=\"Running\" i]')", timeout=60_000)


def test_password_sign_in_with_backoff_and_an_audited_toggle(tmp_path):
    from core import services

    ctx = _context(tmp_path, free_attempts=2, backoff_seconds=4.0)  # the same back-off as the server's below
    services.set_password(PASSWORD, user="alice", ctx=ctx)
    stored_hash = ctx.store.get_setting("auth.password")["hash"]
    env = _env(tmp_path, APP__AUTH__FREE_ATTEMPTS="2", APP__AUTH__BACKOFF_SECONDS="4")
    with _browser(env, "0.0.0.0") as (page, url, frames):
        page.goto(f"{url}/settings")
        _settle(page, "Sign in")
        assert page.get_by_test_id("stCheckbox").count() == 0 and page.get_by_text("Paper trading").count() == 0
        _submit(page, "not the password")
        page.get_by_text("Wrong password.", exact=True).wait_for()
        _submit(page, "still not it")
        page.get_by_text("Wrong password. Wait 4 s before the next attempt.").wait_for()
        refused_at = time.monotonic()
        _submit(page, PASSWORD)  # the right one, too early: refused without being checked
        page.get_by_text("Too many wrong passwords").first.wait_for()
        assert "Sign in" in _headings(page)[0]
        page.screenshot(path=str(ARTIFACTS / "auth-backoff.png"), full_page=True)
        assert services.login_wait("local", ctx) > 0  # the back-off is in the database, not the browser session
        page.wait_for_timeout(max(0.0, 4.5 - (time.monotonic() - refused_at)) * 1000)
        _submit(page, PASSWORD)
        _settle(page, "Settings")  # back on the page the URL asked for
        assert page.get_by_text("Signed in as").count() == 1 and page.get_by_text("alice").count() >= 1
        page.screenshot(path=str(ARTIFACTS / "auth-settings-signed-in.png"), full_page=True)
        page.get_by_role("link", name="Dashboard").click()
        _settle(page, "Dashboard")
        page.get_by_test_id("stCheckbox").get_by_text("Paper trading").click()
        deadline = time.monotonic() + 20
        while not ctx.store.audit_log(kind="toggle") and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        flip = ctx.store.audit_log(kind="toggle")[0]
        assert flip.actor == "alice" and flip.message == "paper trading started"
        page.get_by_role("link", name="Risk").click()
        _settle(page, "Risk")
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        page.get_by_role("button", name="Engage kill switch").click()
        banner = page.get_by_text("Kill switch ENGAGED", exact=True)
        for _ in range(4):  # a click that lands while a live panel's fragment reruns can be dropped by Streamlit: click again
            yes = page.get_by_role("button", name="Yes, halt and flatten")
            yes.wait_for()
            yes.click()
            try:
                banner.wait_for(timeout=8_000)
                break
            except PlaywrightTimeout:
                continue
        banner.wait_for()
        assert page.get_by_text("by alice").count() >= 1
        full_page_screenshot(page, "auth-kill-switch-by-alice")
        kills = [r for r in ctx.store.audit_log(kind="risk") if (r.data or {}).get("event") == "kill_switch_engaged"]
        assert [r.actor for r in kills] == ["alice"]
        # nothing secret reached the browser: neither the page nor any websocket frame carries the hash or the password
        seen = page.content().encode() + b"".join(frames)
        assert stored_hash.encode() not in seen and b"$argon2" not in seen and PASSWORD.encode() not in seen
        page.get_by_role("link", name="Settings").click()
        _settle(page, "Settings")
        page.get_by_role("button", name="Log out").click()
        _settle(page, "Sign in")
        assert page.get_by_test_id("stCheckbox").count() == 0
    messages = [r.message for r in ctx.store.audit_log(kind="auth")]
    assert messages[0] == "alice logged out" and "alice signed in with the password from local" in messages
    assert sum("wrong password" in m for m in messages) == 2 and any("refused during back-off" in m for m in messages)


def test_loopback_server_is_unchanged_even_with_a_password_set(tmp_path):
    from core import services

    ctx = _context(tmp_path)
    services.set_password(PASSWORD, user="alice", ctx=ctx)
    with _browser(_env(tmp_path), "127.0.0.1") as (page, url, _):
        page.goto(f"{url}/risk")
        _settle(page, "Risk")
        assert page.get_by_test_id("stCheckbox").get_by_text("Paper trading").count() == 1 and page.get_by_role("link", name="Dashboard").count() == 1
        page.get_by_role("link", name="Settings").click()
        _settle(page, "Settings")
        assert page.get_by_text("No sign-in: the app listens on this machine only").count() == 1


def test_oidc_sign_in_through_a_local_provider(tmp_path):
    """The real st.login flow (Streamlit + Authlib) against an OpenID Connect provider on 127.0.0.1."""
    from fakes.oidc_fake import FakeOidcProvider

    ctx = _context(tmp_path)
    port, client_secret, cookie_secret = free_port(), "client-secret-0123456789", "cookie-secret-" + "9" * 40
    with FakeOidcProvider("trading-app", client_secret) as idp:
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(f'[auth]\nredirect_uri = "http://127.0.0.1:{port}/oauth2callback"\ncookie_secret = "{cookie_secret}"\n'
                           f'client_id = "trading-app"\nclient_secret = "{client_secret}"\n'
                           f'server_metadata_url = "{idp.url}/.well-known/openid-configuration"\n')
        with _browser(_env(tmp_path), "0.0.0.0", port=port, extra_args=("--secrets.files", str(secrets))) as (page, url, frames):
            page.goto(f"{url}/risk")
            _settle(page, "Sign in")
            assert page.get_by_label("Password", exact=True).count() == 0  # no password set: the provider only
            page.get_by_role("button", name="Sign in with your identity provider").click()
            _settle(page, "Dashboard")  # the provider sent the browser back to the app
            assert idp.count("POST", "/token") == 1
            page.get_by_test_id("stCheckbox").get_by_text("Paper trading").click()
            deadline = time.monotonic() + 20
            while not ctx.store.audit_log(kind="toggle") and time.monotonic() < deadline:
                page.wait_for_timeout(250)
            assert ctx.store.audit_log(kind="toggle")[0].actor == "carol@example.com"
            page.get_by_role("link", name="Settings").click()
            _settle(page, "Settings")
            assert page.get_by_text("(OpenID Connect)").count() == 1
            page.screenshot(path=str(ARTIFACTS / "auth-oidc-settings.png"), full_page=True)
            seen = page.content().encode() + b"".join(frames)
            assert client_secret.encode() not in seen and cookie_secret.encode() not in seen
            page.get_by_role("button", name="Log out").click()
            _settle(page, "Sign in")
            assert page.get_by_test_id("stCheckbox").count() == 0
    messages = [r.message for r in ctx.store.audit_log(kind="auth")]
    assert messages[0] == "carol@example.com logged out" and "carol@example.com signed in with OpenID Connect from local" in messages


def test_oidc_identity_cookie_is_not_reused_past_the_session_timeout(tmp_path):
    """Streamlit's identity cookie lives 30 days: with auth.session_minutes = 0.2 (12 s), a new tab within the timeout is signed in
    from the cookie, a new tab after it goes back to the sign-in screen (and the provider signs in afresh)."""
    from fakes.oidc_fake import FakeOidcProvider

    ctx = _context(tmp_path)
    port, client_secret = free_port(), "client-secret-0123456789"
    with FakeOidcProvider("trading-app", client_secret) as idp:
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(f'[auth]\nredirect_uri = "http://127.0.0.1:{port}/oauth2callback"\ncookie_secret = "{"5" * 48}"\n'
                           f'client_id = "trading-app"\nclient_secret = "{client_secret}"\n'
                           f'server_metadata_url = "{idp.url}/.well-known/openid-configuration"\n')
        env = _env(tmp_path, APP__AUTH__SESSION_MINUTES="0.2")
        with _browser(env, "0.0.0.0", port=port, extra_args=("--secrets.files", str(secrets))) as (page, url, _):
            page.goto(f"{url}/")
            _settle(page, "Sign in")
            page.get_by_role("button", name="Sign in with your identity provider").click()
            _settle(page, "Dashboard")
            signed_at = time.monotonic()
            second = page.context.new_page()  # a new tab: a new Streamlit session with the same cookie
            second.goto(f"{url}/risk")
            _settle(second, "Risk")
            assert idp.count("POST", "/token") == 1  # no second trip to the provider
            page.close()
            second.close()
            time.sleep(max(0.0, 13.5 - (time.monotonic() - signed_at)))
            third = page.context.new_page()
            third.goto(f"{url}/risk")
            third.wait_for_selector("h1:has-text('Sign in')", timeout=10_000)  # at once: not after this tab's own 12 s idle timeout
            _settle(third, "Sign in")
            assert third.get_by_test_id("stCheckbox").count() == 0
            third.get_by_role("button", name="Sign in with your identity provider").click()
            _settle(third, "Dashboard")
            assert idp.count("POST", "/token") == 2
    messages = [r.message for r in ctx.store.audit_log(kind="auth")]
    assert sum(m == "carol@example.com signed in with OpenID Connect from local" for m in messages) == 3
    assert any(m.startswith("carol@example.com identity from the provider is older than 0.2 minutes") for m in messages)


def test_oidc_with_the_wrong_client_secret_signs_nobody_in(tmp_path):
    """The provider refuses the code exchange (invalid_client): the browser lands on the sign-in screen again, nobody is audited."""
    from fakes.oidc_fake import FakeOidcProvider

    ctx = _context(tmp_path)
    port = free_port()
    with FakeOidcProvider("trading-app", "the-real-secret-0123456789") as idp:
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(f'[auth]\nredirect_uri = "http://127.0.0.1:{port}/oauth2callback"\ncookie_secret = "{"7" * 48}"\n'
                           f'client_id = "trading-app"\nclient_secret = "a-wrong-secret-0123456789"\n'
                           f'server_metadata_url = "{idp.url}/.well-known/openid-configuration"\n')
        with _browser(_env(tmp_path), "0.0.0.0", port=port, extra_args=("--secrets.files", str(secrets))) as (page, url, _):
            page.goto(f"{url}/settings")
            _settle(page, "Sign in")
            page.get_by_role("button", name="Sign in with your identity provider").click()
            deadline = time.monotonic() + 30
            while idp.count("POST", "/token") == 0 and time.monotonic() < deadline:
                page.wait_for_timeout(250)
            _settle(page, "Sign in")
            assert idp.count("POST", "/token") == 1
            assert page.get_by_test_id("stCheckbox").count() == 0 and page.get_by_text("Signed in as").count() == 0
    assert not [r for r in ctx.store.audit_log(kind="auth") if "signed in" in r.message]
