"""Delivery channels: Telegram Bot API, Discord webhook, e-mail over SMTP with STARTTLS.

Each channel's ``send`` raises :class:`ChannelError` with a message that names
the problem and never contains a secret (bot token, webhook URL, password).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

import requests

from core.log import secret_parts
from core.news.fetchers.base import mask_text

TELEGRAM_LIMIT = 4096
DISCORD_LIMIT = 2000


class ChannelError(Exception):
    """A message could not be delivered; ``retryable`` says whether trying later may help."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class Channel(Protocol):
    """Anything that delivers a text message."""

    name: str

    def send(self, text: str, subject: str = "") -> None: ...


def _post(session: requests.Session, url: str, what: str, payload: dict, timeout: float, secrets: list[str]) -> requests.Response:
    try:
        return session.post(url, json=payload, timeout=timeout)
    except requests.Timeout:
        raise ChannelError(f"{what}: no answer within {timeout:g} s", retryable=True) from None
    except requests.RequestException as exc:
        # The exception text holds the URL, and the URL holds the token: report the type only.
        parts = [part for secret in secrets for part in secret_parts(secret)]
        raise ChannelError(f"{what}: cannot reach the server ({mask_text(type(exc).__name__, parts)})", retryable=True) from None


class TelegramChannel:
    """``POST {api_base}/bot<token>/sendMessage`` with ``chat_id`` and ``text``."""

    name = "telegram"

    def __init__(self, token: str, chat_id: str, api_base: str = "https://api.telegram.org", timeout: float = 10.0,
                 session: requests.Session | None = None) -> None:
        if not token or not chat_id:
            raise ChannelError("telegram is not configured: set APP__NOTIFY__TELEGRAM_TOKEN and APP__NOTIFY__TELEGRAM_CHAT_ID")
        self._token = token
        self.chat_id = chat_id
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def __repr__(self) -> str:
        return f"TelegramChannel(api_base={self.api_base!r}, chat_id={self.chat_id!r})"

    def send(self, text: str, subject: str = "") -> None:
        """Send ``text`` (cut to Telegram's 4096 characters)."""
        url = f"{self.api_base}/bot{self._token}/sendMessage"
        payload = {"chat_id": self.chat_id, "text": text[:TELEGRAM_LIMIT], "disable_web_page_preview": True}
        response = _post(self.session, url, "telegram", payload, self.timeout, [self._token])
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not body.get("ok", False):
            desc = mask_text(str(body.get("description") or response.reason or "error"), sorted(secret_parts(self._token)))
            retry_after = (body.get("parameters") or {}).get("retry_after")
            hint = f"; retry after {retry_after} s" if retry_after else ""
            if response.status_code in (401, 404):
                hint = "; check APP__NOTIFY__TELEGRAM_TOKEN"
            elif response.status_code == 400 and "chat" in desc.lower():
                hint = "; check APP__NOTIFY__TELEGRAM_CHAT_ID (message the bot first)"
            raise ChannelError(f"telegram: HTTP {response.status_code}: {desc}{hint}", retryable=response.status_code in (429, 500, 502, 503, 504))


class DiscordChannel:
    """``POST <webhook_url>`` with ``{"content": text}`` (answers 204, or 200 with ``?wait=true``)."""

    name = "discord"

    def __init__(self, webhook_url: str, timeout: float = 10.0, username: str = "trading bot", session: requests.Session | None = None) -> None:
        if not webhook_url:
            raise ChannelError("discord is not configured: set APP__NOTIFY__DISCORD_WEBHOOK_URL")
        self._url = webhook_url
        self.timeout = timeout
        self.username = username
        self.session = session or requests.Session()

    def __repr__(self) -> str:
        return "DiscordChannel(webhook_url='***')"

    def send(self, text: str, subject: str = "") -> None:
        """Send ``text`` (cut to Discord's 2000 characters)."""
        payload = {"content": text[:DISCORD_LIMIT], "username": self.username, "allowed_mentions": {"parse": []}}
        response = _post(self.session, self._url, "discord", payload, self.timeout, [self._url])
        if response.status_code in (200, 204):
            return
        try:
            body = response.json()
        except ValueError:
            body = {}
        msg = mask_text(str(body.get("message") or response.reason or "error"), sorted(secret_parts(self._url)))
        hint = f"; retry after {body['retry_after']} s" if "retry_after" in body else ""
        if response.status_code in (401, 403, 404):
            hint = "; check APP__NOTIFY__DISCORD_WEBHOOK_URL"
        raise ChannelError(f"discord: HTTP {response.status_code}: {msg}{hint}", retryable=response.status_code == 429 or response.status_code >= 500)


class EmailChannel:
    """Plain-text e-mail through an SMTP server, upgraded with STARTTLS before any login."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str | None, recipients: str | None, user: str | None = None,
                 password: str | None = None, starttls: bool = True, ca_file: str | None = None, timeout: float = 10.0) -> None:
        if not sender or not recipients:
            raise ChannelError("email is not configured: set APP__NOTIFY__EMAIL_FROM and APP__NOTIFY__EMAIL_TO (and APP__NOTIFY__SMTP_HOST)")
        self.host, self.port = host, port
        self.sender = sender
        self.recipients = [r.strip() for r in recipients.split(",") if r.strip()]
        self.user = user
        self._password = password
        self.starttls = starttls
        self.ca_file = ca_file
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"EmailChannel(host={self.host!r}, port={self.port}, user={self.user!r})"

    def send(self, text: str, subject: str = "") -> None:
        """Send ``text`` as a plain-text e-mail to every recipient."""
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Subject"] = subject or text.splitlines()[0][:150]
        msg.set_content(text)
        secrets = [self._password or ""]
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    if not smtp.has_extn("starttls"):
                        raise ChannelError(
                            f"email: {self.host}:{self.port} does not offer STARTTLS; refusing to send in clear text (or set smtp_starttls: false)"
                        )
                    smtp.starttls(context=ssl.create_default_context(cafile=self.ca_file))
                    smtp.ehlo()
                if self.user:
                    smtp.login(self.user, self._password or "")
                refused = smtp.send_message(msg)
        except ChannelError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise ChannelError(f"email: login refused ({exc.smtp_code}); check APP__NOTIFY__SMTP_USER and APP__NOTIFY__SMTP_PASSWORD") from None
        except (smtplib.SMTPException, ssl.SSLError) as exc:
            raise ChannelError(f"email: {mask_text(f'{type(exc).__name__}: {exc}', secrets)}", retryable=True) from None
        except OSError as exc:
            raise ChannelError(f"email: cannot reach {self.host}:{self.port} ({type(exc).__name__})", retryable=True) from None
        if refused:
            raise ChannelError(f"email: server refused recipient(s) {', '.join(refused)}")
