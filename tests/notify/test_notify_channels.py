"""Each channel's real client path against a local fake: HTTP for Telegram and Discord, aiosmtpd for e-mail."""

import datetime as dt
import email
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from core.notify import ChannelError, DiscordChannel, EmailChannel, TelegramChannel

TOKEN = "123456789:AAHfakeTelegramBotTokenXYZ"
HOOK_PATH = "/api/webhooks/1122334455/SeCrEtWeBhOoKtOkEn"
PASSWORD = "s3cret-smtp-pass"


class FakeHttp:
    """Answer POSTs with canned (status, body) per path; record the JSON bodies."""

    def __init__(self):
        self.routes, self.received = {}, []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.received.append({"path": self.path, "json": json.loads(body or b"null"), "ctype": self.headers.get("Content-Type")})
                status, payload = fake.routes.get(self.path, (404, {"message": "404: Not Found"}))
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http():
    fake = FakeHttp()
    yield fake
    fake.close()


# -- Telegram ------------------------------------------------------------------------------------

SEND = f"/bot{TOKEN}/sendMessage"


def test_telegram_sends_the_message_through_the_bot_api(http):
    http.routes[SEND] = (200, {"ok": True, "result": {"message_id": 42, "chat": {"id": -100123, "type": "group"}, "date": 1704196800,
                                                      "text": "hi"}})
    TelegramChannel(TOKEN, "-100123", api_base=http.url).send("Filled buy 10 AAPL @ 185.2")
    (req,) = http.received
    assert req["path"] == SEND and req["ctype"] == "application/json"
    assert req["json"]["chat_id"] == "-100123" and req["json"]["text"] == "Filled buy 10 AAPL @ 185.2"


@pytest.mark.parametrize(
    ("status", "body", "expected", "retryable"),
    [
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
         "telegram: HTTP 400: Bad Request: chat not found; check APP__NOTIFY__TELEGRAM_CHAT_ID (message the bot first)", False),
        (401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, "telegram: HTTP 401: Unauthorized; check APP__NOTIFY__TELEGRAM_TOKEN", False),
        (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}},
         "telegram: HTTP 429: Too Many Requests: retry after 7; retry after 7 s", True),
    ],
)
def test_telegram_errors_say_what_to_do_and_never_show_the_token(http, status, body, expected, retryable):
    http.routes[SEND] = (status, body)
    with pytest.raises(ChannelError) as err:
        TelegramChannel(TOKEN, "-100123", api_base=http.url).send("x")
    assert str(err.value) == expected and err.value.retryable is retryable


def test_telegram_unreachable_server_hides_the_token_in_the_url():
    with pytest.raises(ChannelError) as err:
        TelegramChannel(TOKEN, "1", api_base="http://127.0.0.1:9", timeout=2).send("x")
    assert str(err.value) == "telegram: cannot reach the server (ConnectionError)" and TOKEN not in repr(err.value)


def test_long_messages_are_cut_to_the_api_limits(http):
    http.routes[SEND] = (200, {"ok": True, "result": {}})
    http.routes[HOOK_PATH] = (204, None)
    TelegramChannel(TOKEN, "1", api_base=http.url).send("x" * 5000)
    DiscordChannel(http.url + HOOK_PATH).send("y" * 5000)
    assert len(http.received[0]["json"]["text"]) == 4096 and len(http.received[1]["json"]["content"]) == 2000


# -- Discord -------------------------------------------------------------------------------------


def test_discord_posts_content_to_the_webhook(http):
    http.routes[HOOK_PATH] = (204, None)
    DiscordChannel(http.url + HOOK_PATH).send("Kill switch ENGAGED")
    (req,) = http.received
    assert req["json"]["content"] == "Kill switch ENGAGED" and req["json"]["allowed_mentions"] == {"parse": []}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, {"message": "Unknown Webhook", "code": 10015}, "discord: HTTP 404: Unknown Webhook; check APP__NOTIFY__DISCORD_WEBHOOK_URL"),
        (429, {"message": "You are being rate limited.", "retry_after": 0.8, "global": False},
         "discord: HTTP 429: You are being rate limited.; retry after 0.8 s"),
        (400, {"message": "Cannot send an empty message", "code": 50006}, "discord: HTTP 400: Cannot send an empty message"),
    ],
)
def test_discord_errors_are_clear_and_hide_the_webhook(http, status, body, expected):
    http.routes[HOOK_PATH] = (status, body)
    with pytest.raises(ChannelError) as err:
        DiscordChannel(http.url + HOOK_PATH).send("x")
    assert str(err.value) == expected and "SeCrEt" not in str(err.value)


# -- e-mail over SMTP with STARTTLS -------------------------------------------------------------


def _self_signed(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if not shutil.which("openssl"):
            pytest.skip("needs the cryptography package or the openssl CLI to make a test certificate")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
        return cert, key
    pk = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(pk.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
         .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
         .sign(pk, hashes.SHA256()))
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(pk.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert, key


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"from": envelope.mail_from, "to": envelope.rcpt_tos, "tls": session.ssl is not None,
                              "login": session.auth_data, "msg": email.message_from_bytes(envelope.content, policy=policy.default)})
        return "250 Message accepted for delivery"


def _auth(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"bot@example.com" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


@pytest.fixture
def smtp_tls(tmp_path):
    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    inbox = Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=_free_port(), tls_context=ctx, require_starttls=True,
                     authenticator=_auth, auth_require_tls=True)
    ctl.start()
    yield ctl, inbox, str(cert)
    ctl.stop()


def _email(ctl, ca, password=PASSWORD, **kw):
    return EmailChannel("127.0.0.1", ctl.port, "bot@example.com", "me@example.com, ops@example.com", user="bot@example.com",
                        password=password, ca_file=ca, timeout=5, **kw)


def test_email_is_sent_over_starttls_after_login(smtp_tls):
    ctl, inbox, ca = smtp_tls
    _email(ctl, ca).send("Daily summary 2024-01-02\nequity 100,000.00", "[trading bot] daily_summary")
    (got,) = inbox.messages
    assert got["tls"] is True and got["login"] == b"bot@example.com"
    assert got["from"] == "bot@example.com" and got["to"] == ["me@example.com", "ops@example.com"]
    assert got["msg"]["Subject"] == "[trading bot] daily_summary"
    assert got["msg"].get_content().replace("\r\n", "\n").strip() == "Daily summary 2024-01-02\nequity 100,000.00"


def test_email_wrong_password_is_a_clear_error_without_the_password(smtp_tls):
    ctl, inbox, ca = smtp_tls
    with pytest.raises(ChannelError) as err:
        _email(ctl, ca, password="wrong-pass").send("x")
    assert str(err.value) == "email: login refused (535); check APP__NOTIFY__SMTP_USER and APP__NOTIFY__SMTP_PASSWORD"
    assert inbox.messages == []


def test_email_refuses_an_untrusted_certificate(smtp_tls):
    ctl, inbox, _ = smtp_tls
    with pytest.raises(ChannelError, match="SSLCertVerificationError") as err:
        _email(ctl, None).send("x")
    assert PASSWORD not in str(err.value) and inbox.messages == []


def test_email_refuses_to_send_in_clear_text_when_starttls_is_missing():
    inbox = Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    ctl.start()
    try:
        with pytest.raises(ChannelError, match="does not offer STARTTLS; refusing to send in clear text"):
            EmailChannel("127.0.0.1", ctl.port, "bot@example.com", "me@example.com", timeout=5).send("x")
        EmailChannel("127.0.0.1", ctl.port, "bot@example.com", "me@example.com", starttls=False, timeout=5).send("plain ok")
    finally:
        ctl.stop()
    assert [m["tls"] for m in inbox.messages] == [False]


def test_channels_without_settings_name_the_variables():
    with pytest.raises(ChannelError, match="APP__NOTIFY__TELEGRAM_TOKEN"):
        TelegramChannel("", "1")
    with pytest.raises(ChannelError, match="APP__NOTIFY__DISCORD_WEBHOOK_URL"):
        DiscordChannel("")
    with pytest.raises(ChannelError, match="APP__NOTIFY__EMAIL_FROM"):
        EmailChannel("localhost", 587, None, "me@example.com")
