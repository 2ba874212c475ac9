"""Helpers for the real-browser tests: a streamlit server on a free port and Debian chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def require_browser() -> None:
    """Skip (or fail in CI, where REQUIRE_BROWSER=1) when chromium or playwright is missing."""
    problem = None
    if not os.path.exists(CHROMIUM):
        problem = "Debian chromium is not installed (make test installs it with apt-get when run as root)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (requirements-dev.txt)"
    if problem:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here but {problem}")
        pytest.skip(problem)


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(env_extra: dict[str, str], script: str = "server.py", address: str = "127.0.0.1", port: int | None = None,
                     extra_args: tuple[str, ...] = ()) -> Iterator[str]:
    """Run ``streamlit run server.py`` (what ``make run`` runs) on a free port until the block ends; yield its URL (always via 127.0.0.1).

    ``address`` is the bind address; only the sign-in tests use ``0.0.0.0``, to be "reachable beyond loopback".
    """
    port = port or free_port()
    env = {**os.environ, **env_extra, "PYTHONUNBUFFERED": "1"}
    log = open(ARTIFACTS / f"streamlit-{port}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
         "--server.address", address, "--server.port", str(port), "--browser.gatherUsageStats", "false", *extra_args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError(f"streamlit did not become healthy; see {log.name}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def full_page_screenshot(page, name: str) -> None:
    """Save ``test-artifacts/<name>.png`` of the whole page.

    Streamlit scrolls inside its main container, so ``full_page`` alone captures one screen:
    the viewport grows to the content first (and plotly re-lays out on resize).
    """
    height = page.evaluate("() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section.main, [data-testid=stAppViewContainer]')]"
                           ".map(e => e.scrollHeight), document.body.scrollHeight)")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 12_000)})
    page.wait_for_timeout(1200)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)
