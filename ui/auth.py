"""The sign-in gate: when the server is reachable beyond this machine, nothing renders before a sign-in.

``app.py`` calls :func:`require_login` before navigation and the sidebar. On a
loopback bind (and ``auth.required: false``) it returns at once and actions are
audited as ``ui``, as before. Otherwise the user signs in with OpenID Connect
(``st.login``, when ``.streamlit/secrets.toml`` has an ``[auth]`` section) or the
single-user password (``python -m core auth set-password``); with neither
configured, the only thing served is a screen that says how to configure one.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn, ParamSpec

import streamlit as st

from core import services
from core.auth import is_loopback
from ui.common import context, guarded

LOCAL_ACTOR = "ui"  # who a loopback session without sign-in is in the audit log
USER, METHOD, SEEN, CREDENTIAL = "auth_user", "auth_method", "auth_seen", "auth_password_version"
README_HINT = "README, section *Run it on a server*"
P = ParamSpec("P")
log = logging.getLogger("pages")


def bind_address() -> str:
    """Return the address the server listens on (Streamlit's ``server.address``; empty = every interface)."""
    return str(st.get_option("server.address") or "")


def start_up() -> bool:
    """Create the core context; return False (after an ``st.error``) when that fails.

    On loopback the error says what is wrong, as before. A server reachable
    beyond this machine must not show configuration details (paths, host names,
    database URLs) to visitors who have not signed in: it says only that the
    app could not start, and the reason goes to the server's log.
    """
    if is_loopback(bind_address()):
        return guarded(context, what="start-up") is not None
    try:
        context()
    except Exception:  # any start-up failure: the details stay on the server
        log.exception("the app could not start")
        st.error("The app could not start. The reason is in the server's log; it is not shown to browsers on a server "
                 "reachable beyond this machine.")
        return False
    return True


def login_needed(ctx: services.Context | None = None) -> bool:
    """Return True when this server must ask for a sign-in (a non-loopback bind, or ``auth.required``)."""
    ctx = ctx or context()
    return services.sign_in_required(bind_address(), ctx)


def oidc_providers() -> list[str]:
    """Return the OpenID Connect providers configured in ``[auth]`` of the secrets (``default`` for an unnamed one)."""
    secrets = st.secrets
    try:
        if not secrets.load_if_toml_exists():
            return []
        section = secrets.get("auth")
    except (OSError, ValueError, KeyError):
        return []
    if not isinstance(section, Mapping) or not section:
        return []
    named = [k for k, v in section.items() if isinstance(v, Mapping)]
    return named or ["default"]


def client_address() -> str:
    """Return the browser's address as the server sees it (``local`` for this machine or a local proxy)."""
    ip = st.context.ip_address
    return ip if isinstance(ip, str) and ip else "local"


def actor() -> str:
    """Return the name to record in the audit log for an action of this browser session."""
    return st.session_state.get(USER) or LOCAL_ACTOR


def session_valid() -> bool:
    """Return True when this session may act: no sign-in needed, or signed in and not timed out.

    Widget callbacks run before ``app.py`` (and so before the gate) on a rerun;
    a callback that changes state asks this first.
    """
    ctx = context()
    if not login_needed(ctx):
        return True
    return bool(st.session_state.get(USER)) and not services.auth_session_expired(st.session_state.get(SEEN), ctx) and not _password_changed(ctx)


def _password_changed(ctx: services.Context) -> bool:
    """Return True when this session signed in with a password that has since been changed or removed."""
    return st.session_state.get(METHOD) == "password" and st.session_state.get(CREDENTIAL) != services.password_version(ctx)


def signed_in_only(callback: Callable[P, None]) -> Callable[P, None]:
    """Wrap a widget callback that changes state so that it does nothing unless this session may act.

    Streamlit runs ``on_click``/``on_change`` callbacks before the script, so
    before the gate: a tab left open past the session timeout would otherwise
    still act through its buttons (audited under the expired user's name).
    """

    @functools.wraps(callback)
    def guarded_callback(*args: P.args, **kwargs: P.kwargs) -> None:
        if session_valid():
            callback(*args, **kwargs)

    return guarded_callback


def require_login(pages: Sequence[st.Page] = ()) -> str:
    """Return the acting user's name, or serve only the sign-in (or set-up) screen and stop the script.

    ``pages`` are the app's pages: while signed out, each of their URLs shows the
    screen instead (same URL paths, no titles, no sidebar), so a deep link such as
    ``/risk`` still opens the Risk page after the sign-in.
    """
    ctx = context()
    if not login_needed(ctx):
        return LOCAL_ACTOR
    if not st.get_option("server.enableXsrfProtection"):
        _serve_only(_xsrf_screen, pages)
    providers = oidc_providers()
    status = services.auth_status(ctx)
    if not providers and not status["password_set"]:
        _serve_only(_configure_screen, pages)
    user = _signed_in_user(ctx, providers)
    if user:
        st.session_state[SEEN] = ctx.clock.now()
        with st.sidebar:
            _expiry_watch()
        return user
    _serve_only(lambda: _sign_in_screen(ctx, providers, status["password_set"]), pages)


def _serve_only(screen: Callable[[], None], pages: Sequence[st.Page]) -> NoReturn:
    # Placeholders keep every page's URL path (so its page hash: the URL survives the sign-in) but render only `screen`;
    # the hidden navigation also replaces any page list the browser got from Streamlit's legacy pages/ mode.
    holders = [st.Page(screen, title="Sign in", url_path=getattr(p, "_url_path", None) or p.url_path, default=bool(getattr(p, "_default", False)))
               for p in pages]
    if not holders:
        holders = [st.Page(screen, title="Sign in", url_path="sign-in", default=True)]
    st.navigation(holders, position="hidden").run()
    st.stop()
    raise AssertionError("unreachable: st.stop() ends the script")  # pragma: no cover


def _xsrf_screen() -> None:
    _screen(":material/gpp_bad: Cross-site request protection is off",
            "This server is reachable beyond this machine, so it refuses to run with `server.enableXsrfProtection = false`. "
            f"Remove that line from `.streamlit/config.toml` (or the command line) and restart; see the {README_HINT}.")


def _signed_in_user(ctx: services.Context, providers: list[str]) -> str | None:
    name, method = st.session_state.get(USER), st.session_state.get(METHOD)
    if name and services.auth_session_expired(st.session_state.get(SEEN), ctx):
        services.record_sign_out(name, f"session timed out after {ctx.settings.auth.session_minutes:g} idle minutes", ctx)
        _forget()
        st.session_state["auth_notice"] = "Your session timed out: sign in again."
        if method == "oidc":
            st.logout()
            st.stop()
        return None
    if name and _password_changed(ctx):  # e.g. reset after a leak: a session signed in with the old password ends here
        services.record_sign_out(name, "signed out: the password was changed since this session signed in", ctx)
        _forget()
        st.session_state["auth_notice"] = "The password was changed: sign in again."
        return None
    if name:
        return name
    if providers and st.user.get("is_logged_in"):
        name = str(st.user.get("email") or st.user.get("name") or st.user.get("sub") or "oidc-user")[:64]
        if services.identity_too_old(st.user.get("iat"), ctx):  # Streamlit's identity cookie lives 30 days: not past the timeout
            services.record_sign_out(name, f"identity from the provider is older than {ctx.settings.auth.session_minutes:g} minutes: "
                                           "signed out, the provider must be asked again", ctx)
            st.logout()
            st.stop()
        services.record_sign_in(name, "OpenID Connect", client_address(), ctx)
        st.session_state[USER], st.session_state[METHOD] = name, "oidc"
        return name
    return None


def _forget() -> None:
    for key in (USER, METHOD, SEEN, CREDENTIAL):
        st.session_state.pop(key, None)


@st.fragment(run_every=30)
def _expiry_watch() -> None:
    # A full rerun shows the sign-in screen and ends the pages' live panels once the session has timed out.
    if not session_valid():
        st.rerun(scope="app")


def _screen(title: str, body: str) -> None:
    st.title(title)
    st.markdown(body)


def _configure_screen() -> None:
    where = bind_address() or "every network interface"
    _screen(":material/lock: Configure authentication",
            f"This app listens on **{where}**, so other machines can reach it, and nothing is shown until a sign-in is "
            "configured. Do one of these on the server, then reload this page:")
    st.markdown(
        "1. **A password** (one user):\n"
        "   ```bash\n"
        "   .venv/bin/python -m core auth set-password --user YOUR_NAME\n"
        "   ```\n"
        "   Only a salted argon2id hash is stored, in the app's database.\n"
        "2. **OpenID Connect** (Google, Microsoft, Okta, Auth0, …): add an `[auth]` section to `.streamlit/secrets.toml` "
        "with `redirect_uri` (this app's URL + `/oauth2callback`), `cookie_secret`, `client_id`, `client_secret` and "
        "`server_metadata_url`, then restart the app.\n\n"
        f"Or serve this machine only: `--server.address 127.0.0.1`. Details: {README_HINT}."
    )


def _sign_in_screen(ctx: services.Context, providers: list[str], password_set: bool) -> None:
    st.title(":material/lock: Sign in")
    notice = st.session_state.pop("auth_notice", None)
    if notice:
        st.info(notice)
    for provider in providers:
        label = "Sign in with your identity provider" if provider == "default" else f"Sign in with {provider}"
        if st.button(label, key=f"auth_oidc_{provider}", icon=":material/login:"):
            st.login(None if provider == "default" else provider)
    if not password_set:
        return
    client = client_address()
    notice = st.empty()  # above the form: the outcome of this attempt, or the back-off still running
    with st.form("auth_form", clear_on_submit=True):
        password = st.text_input("Password", type="password", key="auth_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        result = services.login(password, client, ctx)
        if result.ok:
            st.session_state[USER], st.session_state[METHOD] = result.user, "password"
            st.session_state[SEEN], st.session_state[CREDENTIAL] = ctx.clock.now(), services.password_version(ctx)
            st.rerun()
        notice.error(result.message)
    elif (wait := services.login_wait(client, ctx)) > 0:
        notice.warning(f"Too many wrong passwords from this address: wait {wait:.0f} s before trying again.")


def account_panel() -> None:
    """Render who is signed in and a log-out button (the Settings page)."""
    ctx = context()
    st.subheader("Sign-in")
    if not login_needed(ctx):
        st.caption(f"No sign-in: the app listens on this machine only (`{bind_address()}`); actions are audited as `{LOCAL_ACTOR}`. "
                   f"To open it from other machines, see the {README_HINT}.")
        return
    method = {"password": "password", "oidc": "OpenID Connect"}.get(st.session_state.get(METHOD, ""), "?")
    c1, c2 = st.columns([4, 1])
    name = re.sub(r"([\\`*_{}\[\]()#+.!|<>~-])", r"\\\1", actor())  # a provider's claim is text, not markdown
    c1.markdown(f"Signed in as **{name}** ({method}) · the session ends after {ctx.settings.auth.session_minutes:g} idle minutes.")
    if c2.button("Log out", key="auth_logout", icon=":material/logout:"):
        logout()


def logout() -> None:
    """End this browser session's sign-in (audited) and show the sign-in screen."""
    name, method = st.session_state.get(USER), st.session_state.get(METHOD)
    if name:
        services.record_sign_out(name, "logged out", context())
    _forget()
    if method == "oidc":
        st.logout()
        st.stop()
    st.rerun()
