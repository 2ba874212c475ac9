"""Page load times in a real browser: every page, cold (first visit to a freshly started server) and warm (second visit).

    .venv/bin/python bench/pages.py [--runs 3] [--pages dashboard,risk] [--populated]

Starts ``streamlit run server.py`` (what ``make run`` serves) on a throw-away SQLite
database with the bundled data, opens each page in Debian chromium (headless, Playwright)
and times from navigation until Streamlit reports the page's script run finished
(``script_finished`` on its websocket) with the page's title on screen. Cold: a new server per run, the page is the
first one opened. Warm: the same page opened again in a new tab of the same server. Sidebar click: in an open
tab of that server, once the landing page (Dashboard) is drawn, a click on the page's sidebar link (how a user moves between pages),
until the page's script has finished (content) and until the page is drawn.
Prints a Markdown table (median of ``--runs``) and the machine load (``uptime``).
Targets (issue 18): cold < 2 s, warm < 1 s. ``--floor`` also times, in the same run and with the same server config, a
Streamlit page with no app code and one with a single three-point Plotly chart (``bench/floor/``): what any Streamlit
page, and any page with a Plotly chart, costs on the machine.

Two end points per load: *content* (the script has finished and its output is on screen; a chart
is then a placeholder) and *drawn* (every Plotly chart of the run is drawn and the tab's main
thread has had no long task, i.e. none over 50 ms, for 0.5 s; the time is the end of the last long task). The
difference is the browser's own work after the server is done, mostly evaluating plotly.js, which
Streamlit loads with the first chart of each tab.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = {"dashboard": "Dashboard", "trading": "Trading", "portfolio": "Portfolio", "backtest": "Backtest", "models": "Models", "risk": "Risk",
         "news": "News", "settings": "Settings"}  # fmt: skip


# Records the tab's long tasks (main-thread tasks over 50 ms) from navigation on.
_LONG_TASKS = ("window.__longTasks = []; new PerformanceObserver(list => { for (const e of list.getEntries()) "
               "window.__longTasks.push(e.startTime + e.duration); }).observe({type: 'longtask', buffered: true});")


def _wait_idle(page, deadline: float) -> None:
    """Wait until the tab has had no new long task for 0.5 s."""
    seen = -1
    while time.perf_counter() < deadline:
        page.wait_for_timeout(500)
        count = page.evaluate("window.__longTasks.length")
        if count == seen:
            return
        seen = count


def _frame_kind(payload: bytes | str) -> str | None:
    """Classify a websocket frame from the server: "chart" (a new Plotly chart), "finished" (the script run ended well)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    if isinstance(payload, str):
        return None
    try:
        msg = ForwardMsg.FromString(payload)
    except Exception:
        return None
    kind = msg.WhichOneof("type")
    if kind == "delta" and msg.delta.WhichOneof("type") == "new_element" and msg.delta.new_element.WhichOneof("type") == "plotly_chart":
        return "chart"
    if kind == "script_finished" and msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
        return "finished"
    return None


def _drawn_at(page, charts: int, content_at: float, deadline: float) -> float:
    """Wait until ``charts`` Plotly charts have their SVG and the tab is idle; return when the page was drawn (our clock):
    the end of its last long task, and no earlier than ``content_at``."""
    while page.locator(".js-plotly-plot .main-svg").count() < charts and time.perf_counter() < deadline:
        page.wait_for_timeout(10)
    _wait_idle(page, deadline)
    # the browser's clock (ms from navigation) on ours: sampled together, to a few ms
    before = time.perf_counter()
    now_ms, last_ms = page.evaluate("[performance.now(), Math.max(0, ...window.__longTasks)]")
    offset = (before + time.perf_counter()) / 2 - now_ms / 1000
    return max(content_at, offset + last_ms / 1000)


def _visit(context, url: str, title: str, timeout_s: float = 120.0) -> tuple[float, float, float]:
    """Open ``url`` in a new tab; return the seconds until the page's script run has finished with its title on screen,
    the part of it from the browser's first websocket message (its request to run the page) to that end, and the
    seconds until the page is drawn (its charts drawn, the tab idle; see the module's docstring).

    The first end is Streamlit's own ``script_finished`` message on the websocket (the full run, not a
    fragment's), so the time covers app.py, the shell and the whole page script; the second
    figure leaves out loading the page's HTML and JavaScript.
    """
    done: list[float] = []
    sent: list[float] = []
    charts = [0]

    def on_frame(payload: bytes | str) -> None:
        if done:
            return
        kind = _frame_kind(payload)
        if kind == "chart":
            charts[0] += 1
        elif kind == "finished":
            done.append(time.perf_counter())

    page = context.new_page()
    page.add_init_script(_LONG_TASKS)
    def on_socket(ws) -> None:
        ws.on("framereceived", on_frame)
        ws.on("framesent", lambda _payload: sent.append(time.perf_counter()) if not sent else None)

    page.on("websocket", on_socket)
    try:
        t0 = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        page.get_by_role("heading", name=title, exact=True).first.wait_for(state="visible", timeout=timeout_s * 1000)
        deadline = time.perf_counter() + timeout_s
        while not done and time.perf_counter() < deadline:
            page.wait_for_timeout(10)
        if not done:
            raise RuntimeError(f"{url}: the script did not finish within {timeout_s:.0f} s")
        drawn = _drawn_at(page, charts[0], done[0], deadline)
        return done[0] - t0, done[0] - (sent[0] if sent else t0), drawn - t0
    finally:
        page.close()


def _switch(context, url: str, title: str, timeout_s: float = 120.0) -> tuple[float, float]:
    """Open the app on another page, then click ``title`` in the sidebar (how a user moves between pages);
    return the seconds from the click until that page's script run has finished with its title on screen (content),
    and until it is drawn (its charts drawn, the tab idle, as in :func:`_visit`)."""
    done: list[float] = []
    charts: list[float] = []

    def on_frame(payload: bytes | str) -> None:
        kind = _frame_kind(payload)
        if kind == "chart":
            charts.append(time.perf_counter())
        elif kind == "finished":
            done.append(time.perf_counter())

    page = context.new_page()
    page.add_init_script(_LONG_TASKS)
    page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    # from the landing page (the Dashboard, which draws a chart, so plotly.js is loaded in the tab as it is for a user
    # who starts at /); the Dashboard itself is reached from the Risk page
    start, start_title = ("/", "Dashboard") if title != "Dashboard" else ("/risk", "Risk")
    try:
        page.goto(url + start, wait_until="commit", timeout=timeout_s * 1000)
        page.get_by_role("heading", name=start_title, exact=True).first.wait_for(state="visible", timeout=timeout_s * 1000)
        deadline = time.perf_counter() + timeout_s
        while not done and time.perf_counter() < deadline:
            page.wait_for_timeout(10)
        _wait_idle(page, deadline)  # the first page drawn (a click while it still draws waits for the browser's main thread)
        link = page.locator("[data-testid=stSidebarNav] a", has_text=title).first
        t0 = time.perf_counter()
        link.click()
        page.get_by_role("heading", name=title, exact=True).first.wait_for(state="visible", timeout=timeout_s * 1000)
        while not [t for t in done if t > t0] and time.perf_counter() < deadline:
            page.wait_for_timeout(10)
        after = [t for t in done if t > t0]
        if not after:
            raise RuntimeError(f"{title}: the script did not finish after the click within {timeout_s:.0f} s")
        # charts sent after the click; the old page's charts are gone from the DOM once the new run has finished
        wanted = len([t for t in charts if t0 < t <= after[0]])
        return after[0] - t0, _drawn_at(page, wanted, after[0], deadline) - t0
    finally:
        page.close()


def _fmt(seconds: float) -> str:
    return "–" if seconds != seconds else f"{seconds:.2f}"  # NaN: not measured


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated page names")
    parser.add_argument("--populated", action="store_true", help="first run a paper session over 300 bars so the pages show history")
    parser.add_argument("--floor", action="store_true",
                        help="also time two pages with no app code (bench/floor: a title; a title and a 3-point Plotly chart), same server config")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from tests.ui.browser import ARGS, CHROMIUM, free_port, streamlit_server

    tmp = Path(tempfile.mkdtemp())
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    db = tmp / "bench.db"
    env = {"APP__STORE__DATABASE_URL": f"sqlite:///{db}", "APP__LOG__DIR": str(tmp / "logs"), "APP__DATA__MODELS_DIR": str(tmp / "models")}
    os.environ.update(env)  # for the populate step below (same store as the servers)
    if args.populated:
        from core import services
        from tests.ui.populate import populate_paper

        populate_paper(services.get_context())
    names = [p.strip() for p in args.pages.split(",") if p.strip()]
    floors = {"bare": ("bench/floor/bare.py", "Bare"), "bare chart": ("bench/floor/bare_chart.py", "Bare chart")} if args.floor else {}
    names += list(floors)
    cold: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    warm: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    switch: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        # One throw-away server first: creates the database, so no cold run pays for the schema.
        with streamlit_server(env, port=free_port()) as url:
            _visit(browser.new_context(), url + "/", "Dashboard")
        for _ in range(args.runs):
            for name in names:
                script, title = floors.get(name, ("server.py", PAGES.get(name, "")))
                with streamlit_server(env, script=script, port=free_port()) as url:
                    context = browser.new_context()
                    path = "/" if name in ("dashboard", *floors) else f"/{name}"
                    cold[name].append(_visit(context, url + path, title))
                    warm[name].append(_visit(context, url + path, title))
                    # a single-page script has no sidebar to click
                    switch[name].append(_switch(context, url, title) if name not in floors else (float("nan"), float("nan")))
                    context.close()
        browser.close()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {os.cpu_count()} cores; {load}")
    print(f"store: {'populated (300 bars of paper trading on AAPL, MSFT)' if args.populated else 'fresh (bundled data only)'}; "
          f"median of {args.runs}\n")
    print("| page | cold: content (s) | cold: drawn (s) | warm: content (s) | warm: drawn (s) | sidebar click: content (s) | "
          "sidebar click: drawn (s) | cold: script part (s) | warm: script part (s) | cold runs, content / drawn | "
          "warm runs, content / drawn |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        c, w = cold[name], warm[name]
        med = {(k, i): statistics.median(x[i] for x in runs) for k, runs in (("c", c), ("w", w), ("s", switch[name])) for i in range(len(runs[0]))}
        print(f"| {PAGES.get(name, name + ' (floor)')} | {med['c', 0]:.2f} | {med['c', 2]:.2f} | {med['w', 0]:.2f} | {med['w', 2]:.2f} | {_fmt(med['s', 0])} | "
              f"{_fmt(med['s', 1])} | {med['c', 1]:.2f} | {med['w', 1]:.2f} | {' · '.join(f'{x[0]:.2f}/{x[2]:.2f}' for x in c)} | "
              f"{' · '.join(f'{x[0]:.2f}/{x[2]:.2f}' for x in w)} |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
