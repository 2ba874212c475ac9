"""The sign-in gate through AppTest: exposure by bind address, the set-up screen, password and OIDC sign-in, timeout, audit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from core import services
from tests.ui.settle import settle

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PASSWORD = "correct horse battery"
NOW = 1_704_153_600  # the clock fixture, 2024-01-02 00:00 UTC, in seconds since the epoch (an id token's iat)
OIDC = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "app",
        "client_secret": "s" * 16, "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}


@pytest.fixture
def bind(request):
    """Set Streamlit's server.address for the test (AppTest reads the same option as a real server)."""
    old_address = st_config.get_option("server.address")
    old_xsrf = st_config.get_option("server.enableXsrfProtection")

    def set_address(address: str | None, xsrf: bool = True) -> None:
        st_config.set_option("server.address", address)
        st_config.set_option("server.enableXsrfProtection", xsrf)

    yield set_address
    set_address(old_address, old_xsrf)


@pytest.fixture
def app(ctx, monkeypatch):
    # AppTest starts every run like a fresh process, in Streamlit's legacy pages/ mode, where a page URL runs the
    # page file without app.py. A real server leaves that mode at its first request (ui/__init__.py; the browser
    # test proves it on a fresh server); emulate a server past that point so page URLs go through app.py here too.
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def server_past_first_request(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", server_past_first_request)
    return AppTest.from_file(APP, default_timeout=60)


def _texts(at) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(t.value for t in at.title)


def _sign_in(at, password: str) -> None:
    at.text_input(key="auth_password").set_value(password)
    at.button[0].click().run()  # the form's submit button


def test_exposed_without_auth_shows_only_the_setup_screen_on_every_page(app, ctx, bind):
    for page in (None, "pages/risk.py", "pages/settings.py", "pages/trading.py"):
        if page:  # register the real pages (loopback), then ask for one of them on the exposed server
            bind("127.0.0.1")
            app.run().switch_page(page)
        bind("0.0.0.0")
        app.run()
        assert not app.exception
        assert [t.value for t in app.title] == [":material/lock: Configure authentication"]
        assert "python -m core auth set-password" in _texts(app) and "[auth]" in _texts(app)
        assert not app.toggle and not app.sidebar.children and not app.button and not app.dataframe
    assert [r.kind for r in ctx.store.audit_log()] == []


@pytest.mark.parametrize(("address", "detail_shown"), [("0.0.0.0", False), ("127.0.0.1", True)])
def test_a_start_up_failure_shows_its_reason_only_on_loopback(app, bind, monkeypatch, address, detail_shown):
    from core.config import ConfigError

    def broken():
        raise ConfigError("cannot open database postgresql+psycopg2://trader@db.internal.example:5432/trading")

    monkeypatch.setattr(services, "get_context", broken)
    bind(address)
    app.run()
    assert not app.exception and not app.title and not app.toggle and not app.sidebar.children
    shown = " ".join(e.value for e in app.error)
    assert ("db.internal.example" in shown) is detail_shown
    if not detail_shown:
        assert shown.startswith("The app could not start. The reason is in the server's log")


def test_unset_address_means_every_interface_and_asks_too(app, bind):
    bind(None)
    app.run()
    assert app.title[0].value.endswith("Configure authentication")
    assert "every network interface" in _texts(app)


def test_password_sign_in_opens_the_app_and_actions_carry_the_user(app, ctx, bind):
    bind("0.0.0.0")
    services.set_password(PASSWORD, user="alice", ctx=ctx)
    app.run()
    assert app.title[0].value.endswith("Sign in") and not app.toggle
    _sign_in(app, "not the password")
    assert not app.exception and app.error[0].value == "Wrong password."
    _sign_in(app, PASSWORD)
    assert not app.exception and app.title[0].value == "Dashboard"
    app.toggle(key="sidebar_paper_toggle").set_value(True).run()
    assert services.paper_status(ctx)["enabled"] is True
    flip = ctx.store.audit_log(kind="toggle")[0]
    assert flip.actor == "alice" and flip.message == "paper trading started"
    app.switch_page("pages/settings.py").run()
    assert any("Signed in as **alice** (password)" in m.value for m in app.markdown)
    app.button(key="auth_logout").click().run()
    assert app.title[0].value.endswith("Sign in") and not app.toggle
    assert ctx.store.audit_log(kind="auth")[0].message == "alice logged out"


def test_repeated_failures_are_slowed_and_the_page_says_how_long(app, ctx, clock, bind):
    bind("192.168.1.20")
    services.set_password(PASSWORD, user="alice", ctx=ctx)
    app.run()
    for _ in range(3):
        _sign_in(app, "not the password")
    assert app.error[0].value == "Wrong password. Wait 1 s before the next attempt."
    _sign_in(app, PASSWORD)  # refused: still within the back-off
    assert app.title[0].value.endswith("Sign in")
    assert [e.value for e in app.error] == ["Too many wrong passwords: wait 1 s before trying again."]
    app.run()  # a reload during the back-off says so before any attempt
    assert [w.value for w in app.warning] == ["Too many wrong passwords from this address: wait 1 s before trying again."]
    clock.advance(timedelta(seconds=1))
    _sign_in(app, PASSWORD)
    assert app.title[0].value == "Dashboard"


def test_idle_session_times_out_and_a_stale_toggle_does_nothing(app, ctx, clock, bind):
    bind("0.0.0.0")
    services.set_password(PASSWORD, user="alice", ctx=ctx)
    app.run()
    _sign_in(app, PASSWORD)
    assert app.title[0].value == "Dashboard"
    clock.advance(timedelta(minutes=ctx.settings.auth.session_minutes, seconds=1))
    app.toggle(key="sidebar_paper_toggle").set_value(True).run()  # the callback runs before the gate
    assert services.paper_status(ctx)["enabled"] is False
    assert app.title[0].value.endswith("Sign in") and app.info[0].value == "Your session timed out: sign in again."
    assert "session timed out" in ctx.store.audit_log(kind="auth")[0].message


def test_a_timed_out_tab_cannot_cancel_an_order_through_its_row_button(app, ctx, clock, bind):
    bind("0.0.0.0")
    services.set_password(PASSWORD, user="alice", ctx=ctx)
    app.run()
    _sign_in(app, PASSWORD)
    app.switch_page("pages/trading.py").run()
    app.number_input(key="tk_qty").set_value(1000.0)
    app.button(key="tk_submit").click().run()
    cancel = next(b for b in app.button if (b.key or "").startswith("tr_cancel_"))
    clock.advance(timedelta(minutes=ctx.settings.auth.session_minutes, seconds=1))
    cancel.click().run()  # on_click runs before the gate: it must not act for an expired session
    assert app.title[0].value.endswith("Sign in")
    assert [r.message.split(" ")[0] for r in ctx.store.audit_log(kind="manual")] == ["queued"]  # no "removed queued ticket"


def _module_functions(tree):
    import ast

    return {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def _ui_sources():
    root = Path(APP).parent
    return sorted([*(root / "pages").glob("*.py"), *(root / "ui").glob("*.py")])


def test_every_widget_callback_checks_the_session_first():
    """Callbacks run before app.py's gate: each must be @signed_in_only or ask session_valid() itself."""
    import ast

    seen = []
    for path in _ui_sources():
        tree = ast.parse(path.read_text())
        functions = _module_functions(tree)
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            for kw in call.keywords:
                if kw.arg not in ("on_click", "on_change", "on_submit"):
                    continue
                if isinstance(kw.value, ast.Constant) and kw.value.value in ("rerun", "ignore"):
                    continue  # a mode, not a callback: no code runs before the gate (st.tabs(on_change="rerun") reruns the page)
                assert isinstance(kw.value, ast.Name) and kw.value.id in functions, f"{path.name}: a callback that is not a named function"
                fn = functions[kw.value.id]
                decorated = any(isinstance(d, ast.Name) and d.id == "signed_in_only" for d in fn.decorator_list)
                asks = any(isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(n.func, "id", None)) == "session_valid" for n in ast.walk(fn))
                assert decorated or asks, f"{path.name}: {fn.name} acts without checking the sign-in"
                seen.append(fn.name)
    assert {"_on_toggle", "_cancel"} <= set(seen)


def test_every_audited_action_from_the_ui_names_the_signed_in_user():
    """No page or panel passes a fixed actor ("ui", "user"): the audit log would lose who did it."""
    import ast

    found = 0
    for path in _ui_sources():
        for call in (n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)):
            for kw in call.keywords:
                if kw.arg == "actor":
                    found += 1
                    value = kw.value
                    ok = isinstance(value, ast.Call) and getattr(value.func, "attr", getattr(value.func, "id", None)) == "actor"
                    assert ok, f"{path.name}:{kw.lineno}: actor={ast.unparse(value)}"
    assert found >= 12  # toggle on/off, risk limits, fill costs, kill switch, re-arm, preview, queue, cancel, train, pin, health, diff


def test_oidc_configured_offers_the_provider_and_a_signed_in_user_is_audited(app, ctx, bind):
    bind("0.0.0.0")
    app.secrets["auth"] = OIDC
    app.user = {"is_logged_in": False}
    app.run()
    assert app.title[0].value.endswith("Sign in")
    assert [b.label for b in app.button] == ["Sign in with your identity provider"] and not app.text_input  # no password set
    app.user = {"is_logged_in": True, "email": "bob@example.com", "name": "Bob", "iat": NOW - 60}
    app.run()
    assert app.title[0].value == "Dashboard"
    app.toggle(key="sidebar_paper_toggle").set_value(True).run()
    assert ctx.store.audit_log(kind="toggle")[0].actor == "bob@example.com"
    assert ctx.store.audit_log(kind="auth")[-1].message == "bob@example.com signed in with OpenID Connect from local"


def test_named_oidc_providers_and_password_are_offered_together(app, ctx, bind):
    bind("0.0.0.0")
    services.set_password(PASSWORD, ctx=ctx)
    app.secrets["auth"] = {"redirect_uri": OIDC["redirect_uri"], "cookie_secret": OIDC["cookie_secret"],
                           "google": {k: OIDC[k] for k in ("client_id", "client_secret", "server_metadata_url")}}
    app.user = {"is_logged_in": False}
    app.run()
    assert [b.label for b in app.button] == ["Sign in with google", "Sign in"]
    assert app.text_input(key="auth_password").proto.type == app.text_input(key="auth_password").proto.PASSWORD


def test_exposed_server_refuses_to_run_without_xsrf_protection(app, ctx, bind):
    bind("0.0.0.0", xsrf=False)
    services.set_password(PASSWORD, ctx=ctx)
    app.run()
    assert "Cross-site request protection is off" in app.title[0].value and not app.text_input


def test_loopback_is_unchanged_even_with_a_password_unless_required(app, ctx, bind, tmp_path):
    from core.config import load_settings
    from core.services import Context, set_context

    bind("127.0.0.1")
    services.set_password(PASSWORD, ctx=ctx)
    app.run()
    assert app.title[0].value == "Dashboard"
    app.toggle(key="sidebar_paper_toggle").set_value(True).run()
    assert ctx.store.audit_log(kind="toggle")[0].actor == "ui"
    app.switch_page("pages/settings.py").run()
    assert any("No sign-in: the app listens on this machine only" in c.value for c in app.caption)
    required = Context.create(load_settings(config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": ctx.settings.store.database_url},
                                            log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False}, auth={"required": True}), clock=ctx.clock)
    set_context(required)
    fresh = AppTest.from_file(APP, default_timeout=60).run()
    assert fresh.title[0].value.endswith("Sign in")


def test_oidc_session_times_out_with_a_logout(app, ctx, clock, bind):
    bind("0.0.0.0")
    app.secrets["auth"] = OIDC
    app.user = {"is_logged_in": True, "email": "bob@example.com", "iat": NOW}
    app.run()
    assert app.title[0].value == "Dashboard"
    clock.advance(timedelta(minutes=ctx.settings.auth.session_minutes, seconds=1))
    app.run()  # st.logout() clears the identity
    assert app.user == {"is_logged_in": False}
    app.run()
    assert app.title[0].value.endswith("Sign in") and app.info[0].value == "Your session timed out: sign in again."
    assert ctx.store.audit_log(kind="auth")[0].message.startswith("bob@example.com session timed out")


def test_a_new_session_does_not_reuse_a_provider_sign_in_older_than_the_timeout(app, ctx, bind):
    """Streamlit keeps the identity cookie 30 days; a reload or new tab past auth.session_minutes must go to the provider again."""
    bind("0.0.0.0")
    app.secrets["auth"] = OIDC
    minutes = ctx.settings.auth.session_minutes
    app.user = {"is_logged_in": True, "email": "bob@example.com", "iat": NOW - int(minutes * 60) - 1}
    app.run()  # st.logout() clears the identity
    assert app.user == {"is_logged_in": False} and not app.toggle
    app.run()
    assert app.title[0].value.endswith("Sign in")
    assert ctx.store.audit_log(kind="auth")[0].message.startswith(f"bob@example.com identity from the provider is older than {minutes:g} minutes")
    assert not [r for r in ctx.store.audit_log(kind="auth") if "signed in" in r.message]


def test_every_page_imports_ui_before_it_renders():
    """ui/__init__.py closes Streamlit's legacy pages/ mode at the first import; a page that rendered first would leak."""
    import ast

    for path in sorted((Path(APP).parent / "pages").glob("*.py")):
        body = ast.parse(path.read_text()).body
        kinds = ["ui" if isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "ui" else
                 "import" if isinstance(n, ast.Import | ast.ImportFrom) else "code" for n in body[1:]]  # [0] is the docstring
        assert "ui" in kinds and kinds.index("ui") < (kinds.index("code") if "code" in kinds else len(kinds)), path.name


def test_every_state_change_from_the_pages_is_audited_with_the_signed_in_user(app, ctx, bind, tmp_path):
    ctx.extras["models_dir"] = tmp_path / "models"
    bind("0.0.0.0")
    services.set_password(PASSWORD, user="alice", ctx=ctx)
    app.default_timeout = 180
    app.run()
    _sign_in(app, PASSWORD)

    def page(path):  # navigate like the sidebar does, within the signed-in session
        app.switch_page(path).run()
        assert not app.exception, app.exception

    page("pages/settings.py")
    app.number_input[0].set_value(2.0)
    app.button(key="FormSubmitter:settings_risk_form-Save risk limits").click().run()
    page("pages/risk.py")
    app.button(key="risk_kill").click().run()
    app.button(key="risk_kill_confirm").click().run()
    app.button(key="risk_rearm").click().run()
    page("pages/trading.py")
    app.number_input(key="tk_qty").set_value(1000.0)
    app.button(key="tk_submit").click().run()
    next(b for b in app.button if (b.key or "").startswith("tr_cancel_")).click().run()  # the queued ticket's per-row cancel
    page("pages/models.py")
    app.multiselect(key="models_members").set_value(["rf"])
    app.number_input(key="models_folds").set_value(3)
    app.button(key="models_train").click().run()
    settle(app)
    assert not app.exception and services.list_models(ctx=ctx)
    page("pages/models.py")
    app.button(key="models_use_paper").click().run()  # pinned, or refused with a reason: audited either way

    log = ctx.store.audit_log(limit=500)
    by_kind = {}
    for row in log:
        by_kind.setdefault(row.kind, set()).add(row.actor)
    assert by_kind["settings"] == {"alice"}
    kills = [r for r in log if r.kind == "risk" and (r.data or {}).get("event", "").startswith("kill_switch")]
    assert {r.data["event"] for r in kills} == {"kill_switch_engaged", "kill_switch_re-armed"} and {r.actor for r in kills} == {"alice"}
    assert by_kind["manual"] == {"alice"} and len([r for r in log if r.kind == "manual"]) == 2  # queued, then removed
    assert by_kind["model"] == {"alice"}
    assert by_kind["models"] == {"alice"}


def test_changing_the_password_ends_sessions_signed_in_with_the_old_one(app, ctx, bind):
    bind("0.0.0.0")
    services.set_password(PASSWORD, user="alice", ctx=ctx)
    app.run()
    _sign_in(app, PASSWORD)
    assert app.title[0].value == "Dashboard"
    services.set_password(PASSWORD, user="alice", ctx=ctx)  # set again (e.g. after a leak), even to the same text
    app.toggle(key="sidebar_paper_toggle").set_value(True).run()  # the open tab's callback runs before the gate
    assert services.paper_status(ctx)["enabled"] is False
    assert app.title[0].value.endswith("Sign in") and app.info[0].value == "The password was changed: sign in again."
    assert "the password was changed" in ctx.store.audit_log(kind="auth")[0].message
    _sign_in(app, PASSWORD)  # the new password works in the same tab
    assert app.title[0].value == "Dashboard"
    services.remove_password(ctx=ctx)
    services.set_password("another long password", user="alice", ctx=ctx)
    app.run()
    assert app.title[0].value.endswith("Sign in")
