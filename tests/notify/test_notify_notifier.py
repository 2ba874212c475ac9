"""The notifier: enable flags, event filter, rate limit, failures logged (masked) and never raised, CLI."""

import json
import logging
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from core.clock import FixedClock
from core.config import NotifySettings
from core.domain import Fill, RiskAction, RiskDecision, Side
from core.notify import (
    ChannelError,
    Notifier,
    daily_summary_event,
    fill_event,
    halt_event,
    kill_switch_event,
    loop_error_event,
    risk_veto_event,
)

ROOT = Path(__file__).resolve().parents[2]
T = datetime(2024, 1, 2, 15, 30, tzinfo=UTC)
TOKEN = "987654321:AAsecretTOKENvalue"


class Recorder:
    name = "recorder"

    def __init__(self, fail=None):
        self.sent, self.fail = [], fail

    def send(self, text, subject=""):
        if self.fail:
            raise self.fail
        self.sent.append((subject, text))


def _fill(n=1):
    return Fill(f"f{n}", f"c{n}", "AAPL", Side.BUY, 10, 185.25, 0.37, T)


def _settings(**kw):
    base = {"telegram_enabled": True, "discord_enabled": True, "email_enabled": True, "rate_per_minute": 2}
    return NotifySettings(**{**base, **kw})


def test_event_text_is_readable_and_carries_its_time():
    assert fill_event(_fill()).text() == "✅ Filled buy 10 AAPL @ 185.2\norder c1 on paper\nfee 0.37\n2024-01-02 15:30:00 UTC"
    veto = risk_veto_event("MSFT", RiskDecision(RiskAction.VETO, 0.0, "max_position_pct"), T, requested=50)
    assert veto.text().splitlines()[:3] == ["⛔ Vetoed order for MSFT", "reason: max_position_pct", "requested 50, allowed 0"]
    assert halt_event("daily loss cap", T).subject() == "[trading bot] halt: Trading halted"
    assert kill_switch_event(True, T, actor="ui").title.startswith("Kill switch ENGAGED")
    assert loop_error_event(ValueError("bad bar"), T).lines == ("ValueError: bad bar",)
    summary = daily_summary_event(T, equity=101_234.5, pnl=-321.0, trades=3, fills=5)
    assert summary.lines == ("equity 101,234.50", "P&L today -321.00", "trades 3, fills 5")


def test_only_enabled_channels_receive_events():
    tg, dc, em = Recorder(), Recorder(), Recorder()
    n = Notifier(_settings(discord_enabled=False, email_enabled=False), FixedClock(T), {"telegram": tg, "discord": dc, "email": em})
    out = n.notify(fill_event(_fill()))
    assert {k: v.status for k, v in out.items()} == {"telegram": "sent", "discord": "disabled", "email": "disabled"}
    assert len(tg.sent) == 1 and dc.sent == [] and em.sent == []


def test_event_kinds_can_be_filtered_per_configuration():
    tg = Recorder()
    n = Notifier(_settings(discord_enabled=False, email_enabled=False, events=["halt", "kill_switch"]), FixedClock(T), {"telegram": tg})
    assert n.notify(fill_event(_fill()))["telegram"].status == "filtered"
    assert n.notify(halt_event("drawdown", T))["telegram"].status == "sent"


def test_rate_limit_drops_routine_events_but_never_the_kill_switch():
    clock, tg = FixedClock(T), Recorder()
    n = Notifier(_settings(discord_enabled=False, email_enabled=False, rate_per_minute=2), clock, {"telegram": tg})
    statuses = [n.notify(fill_event(_fill(k)))["telegram"].status for k in range(3)]
    assert statuses == ["sent", "sent", "rate_limited"]
    assert n.notify(kill_switch_event(True, T))["telegram"].status == "sent"  # critical: bypasses the bucket
    assert tg.sent[-1][1].endswith("(1 earlier notification(s) dropped by the rate limit)")
    assert n.notify(fill_event(_fill(9)))["telegram"].status == "rate_limited"
    clock.advance(timedelta(seconds=30))  # 2 per minute -> one token back after 30 s
    assert n.notify(fill_event(_fill(10)))["telegram"].status == "sent"
    assert "(1 earlier notification(s) dropped" in tg.sent[-1][1]
    assert len(tg.sent) == 4


def test_failures_are_logged_masked_and_never_raised(caplog):
    secret = "hunter2-webhook-secret"
    settings = _settings(discord_webhook_url=f"https://discord.example/api/webhooks/1/{secret}")
    boom = Recorder(fail=RuntimeError(f"bug while posting to https://discord.example/api/webhooks/1/{secret}"))
    down = Recorder(fail=ChannelError("telegram: cannot reach the server (ConnectionError)", retryable=True))
    n = Notifier(settings, FixedClock(T), {"telegram": down, "discord": boom, "email": Recorder()})
    with caplog.at_level(logging.DEBUG):
        out = n.notify(loop_error_event("tick failed", T))
    assert out["telegram"].status == "failed" and out["discord"].status == "failed" and out["email"].status == "sent"
    assert out["discord"].error == "RuntimeError: bug while posting to ***"  # the whole webhook URL is the secret
    assert "telegram could not send loop_error" in caplog.text and "discord crashed" in caplog.text
    assert secret not in caplog.text


def test_misconfigured_enabled_channel_is_reported_not_raised(caplog):
    with caplog.at_level(logging.WARNING):
        n = Notifier(_settings(discord_enabled=False, email_enabled=False), FixedClock(T))
    d = n.notify(halt_event("x", T))["telegram"]
    assert d.status == "misconfigured" and "APP__NOTIFY__TELEGRAM_TOKEN" in d.error
    assert "telegram is enabled but telegram is not configured" in caplog.text


class _TelegramFake:
    """A Telegram Bot API that rejects the token and (badly) echoes the request path in its error."""

    def __init__(self):
        self.paths = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.paths.append(self.path)
                data = json.dumps({"ok": False, "error_code": 401, "description": f"Unauthorized for {self.path}"}).encode()
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_secrets_never_reach_any_log_line_on_the_real_client_path(caplog):
    fake = _TelegramFake()
    try:
        settings = NotifySettings(telegram_enabled=True, telegram_token=TOKEN, telegram_chat_id="42", telegram_api_base=fake.url,
                                  discord_enabled=True, discord_webhook_url=f"http://127.0.0.1:9/api/webhooks/1/{TOKEN}x", timeout_seconds=2)
        with caplog.at_level(logging.DEBUG):  # urllib3 logs each request URL at DEBUG
            n = Notifier(settings, FixedClock(T))
            out = n.notify(halt_event("max drawdown", T))
            test = n.send_test("telegram")
    finally:
        fake.httpd.shutdown()
        fake.httpd.server_close()
    assert fake.paths == [f"/bot{TOKEN}/sendMessage"] * 2  # the token did reach the (fake) API
    assert out["telegram"].status == "failed" and out["discord"].status == "failed" and test.status == "failed"
    assert "Unauthorized for /bot***/sendMessage" in out["telegram"].error
    assert any("urllib3" in r.name for r in caplog.records)  # the third-party lines were there, masked
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
    assert TOKEN not in caplog.text and TOKEN not in repr(out) and TOKEN not in repr(test)


def test_submit_sends_in_the_background_in_order():
    tg = Recorder()
    n = Notifier(_settings(discord_enabled=False, email_enabled=False, rate_per_minute=100), FixedClock(T), {"telegram": tg})
    futures = [n.submit(fill_event(_fill(k))) for k in range(5)]
    assert [f.result(timeout=10)["telegram"].status for f in futures] == ["sent"] * 5
    n.close()
    assert [text.split("\n")[1] for _, text in tg.sent] == [f"order c{k} on paper" for k in range(5)]


# -- CLI -----------------------------------------------------------------------------------------


def _cli(tmp_path, *args, **env):
    base = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "APP__LOG__DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, env={**base, **env}, timeout=120)


def test_cli_notify_test_reports_missing_configuration(tmp_path):
    r = _cli(tmp_path, "notify", "test", "--channel", "email")
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if not line.startswith("note: ")]  # a new store is announced on a note line
    assert errors == ["error: email is not configured: set APP__NOTIFY__EMAIL_FROM and APP__NOTIFY__EMAIL_TO (and APP__NOTIFY__SMTP_HOST)"]


def test_cli_notify_test_sends_through_discord(tmp_path):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{httpd.server_address[1]}/api/webhooks/7/{TOKEN}"
    try:
        r = _cli(tmp_path, "notify", "test", "--channel", "discord", "--json", APP__NOTIFY__DISCORD_WEBHOOK_URL=hook)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"channel": "discord", "status": "sent", "error": "", "enabled": False}
    (path, body), = received
    assert path == f"/api/webhooks/7/{TOKEN}" and body["content"].startswith("Test notification from the trading platform")
    assert TOKEN not in r.stdout + r.stderr
    assert TOKEN not in "".join(p.read_text() for p in tmp_path.glob("*.log"))


def test_cli_rejects_unknown_channel_with_a_hint(tmp_path):
    r = _cli(tmp_path, "notify", "test", "--channel", "telegramm")
    assert r.returncode == 2 and "did you mean 'telegram'" in r.stderr
