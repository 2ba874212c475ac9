"""Secret scan: a failing notification and a misspelt secret key never show a secret, whole or in part.

A Discord webhook URL is ``https://host/api/webhooks/<id>/<token>``: the path holds the
token, and libraries print paths without the host ("Max retries exceeded with url:
/api/webhooks/..."), so masking only the whole URL is not enough.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import requests
from bad_inputs import SECRET_TOKEN
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from core.clock import FixedClock
from core.config import NotifySettings
from core.log import SecretMaskFilter, secret_parts
from core.notify import Notifier, halt_event
from core.notify.channels import DiscordChannel

ROOT = Path(__file__).resolve().parent.parent
HOOK_ID = "112233445566778899"
T = datetime(2024, 1, 2, 15, 30, tzinfo=UTC)


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on exit: nothing listens there


def _forbidden(hook: str) -> list[str]:
    path = hook.split("127.0.0.1", 1)[1].split("/", 1)[1]
    return [SECRET_TOKEN, HOOK_ID, path, f"{HOOK_ID}/{SECRET_TOKEN}", requests.utils.quote(SECRET_TOKEN, safe="")]


def test_cli_notification_error_leaks_nothing_to_stderr_or_the_log_file(tmp_path):
    hook = f"http://127.0.0.1:{_dead_port()}/api/webhooks/{HOOK_ID}/{SECRET_TOKEN}"
    env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/s.db", "APP__LOG__DIR": str(tmp_path / "logs"),
           "APP__LOG__LEVEL": "DEBUG", "APP__NOTIFY__DISCORD_WEBHOOK_URL": hook, "APP__NOTIFY__DISCORD_ENABLED": "true"}
    r = subprocess.run([sys.executable, "-m", "core", "notify", "test", "--channel", "discord"], cwd=ROOT, capture_output=True, text=True,
                       env=env, timeout=120)
    log = (tmp_path / "logs" / "app.log").read_text()
    assert r.returncode == 1 and "error: discord: cannot reach the server" in r.stderr
    assert "notify: test on discord failed" in log  # the failure was logged, so the scan looked at a real line
    for text in (r.stdout, r.stderr, log):
        for secret in _forbidden(hook):
            assert secret not in text


def test_misspelt_secret_key_is_named_but_its_value_never_shown(tmp_path):
    hook = f"https://discord.com/api/webhooks/{HOOK_ID}/{SECRET_TOKEN}"
    env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/s.db", "APP__LOG__DIR": str(tmp_path / "logs"),
           "APP__NOTIFY__DISCORD_WEBHOOK": hook}
    r = subprocess.run([sys.executable, "-m", "core", "data", "list"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "notify.discord_webhook" in r.stderr and "APP__NOTIFY__DISCORD_WEBHOOK_URL" in r.stderr  # the fix is named
    for secret in _forbidden(hook.replace("discord.com", "127.0.0.1")):
        assert secret not in r.stderr + r.stdout


def test_library_lines_with_only_the_path_are_masked(caplog):
    """urllib3 prints the path alone when it retries: the mask must cover it (it did not before)."""
    hook = f"http://127.0.0.1:{_dead_port()}/api/webhooks/{HOOK_ID}/{SECRET_TOKEN}"
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=Retry(total=1, backoff_factor=0)))
    settings = NotifySettings(discord_enabled=True, discord_webhook_url=hook, timeout_seconds=2)
    with caplog.at_level(logging.DEBUG):
        n = Notifier(settings, FixedClock(T), {"discord": DiscordChannel(hook, timeout=2, session=session)})
        out = n.notify(halt_event("max drawdown", T))
    assert out["discord"].status == "failed"
    retry_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3") and "Retrying" in r.getMessage()]
    assert retry_lines and all("***" in line for line in retry_lines)  # the path was there, masked
    for secret in _forbidden(hook):
        assert secret not in caplog.text and secret not in repr(out)


def test_mask_covers_every_part_of_a_secret():
    hook = f"https://discord.com/api/webhooks/{HOOK_ID}/{SECRET_TOKEN}?wait=true"
    mask = SecretMaskFilter([hook, "postgresql://bot:S3cretPassw0rd@db:5432/app", "https://api.example.com/v1/quote?apikey=K3yK3yK3y99"])
    lines = {
        f"Max retries exceeded with url: /api/webhooks/{HOOK_ID}/{SECRET_TOKEN}?wait=true (Caused by NewConnectionError)": "Max retries",
        f"POST api/webhooks/{HOOK_ID}/{SECRET_TOKEN} 404": "POST",
        f"token {SECRET_TOKEN} refused": "refused",
        f"quoted {requests.utils.quote(hook, safe='')}": "quoted",
        "password authentication failed: S3cretPassw0rd": "failed",
        "GET /v1/quote?apikey=K3yK3yK3y99 -> 401": "401",
    }
    for line, keep in lines.items():
        masked = mask.mask(line)
        assert keep in masked and "***" in masked
        assert SECRET_TOKEN not in masked and "S3cretPassw0rd" not in masked and "K3yK3yK3y99" not in masked
    # words that merely appear in a secret's URL stay readable
    assert mask.mask("discord webhooks api wait") == "discord webhooks api wait"
    assert {"api", "webhooks", "wait=true"}.isdisjoint(secret_parts(hook))
