"""AppTest timings per page: the first render and every interaction a user does there, median of several runs.

    .venv/bin/python bench/app.py [--runs 3] [--populated] [--pages risk,models] [--warm]

Runs on a throw-away SQLite database with the bundled data. ``--populated`` first steps a
paper session over 300 bars (so the pages show history) and trains a tiny model (so the
Models page shows a report and its regime timeline). Each run starts a new AppTest session,
renders the page, then does the page's interactions in order, timing each script run
(the click or change through the end of the rerun, as a user waits for it).

The server's start-up warm-up (``server.warm_up``: imports, the data index) runs first, as it
does in the app server. By default ``st.cache_data`` is cleared before each run (``--warm``
keeps it); the services' own per-process caches (fitted regime classifiers, stored sweep
trials...) stay, so the "1st run" column is what a user pays the first time in a server
process and the median what they pay when the page's caches have expired. Work
that runs in the background (training, the sweep...) is timed twice: the click's rerun,
and the time until the page shows the result (polling reruns every 0.25 s, as the page's
progress fragment does).

Targets: first render < 1 s, every interaction < 300 ms. Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Skip(Exception):
    """The interaction's widget is not on the page in this state (e.g. no risk change to compare)."""


def _get(at, kind: str, key: str):
    try:
        return getattr(at, kind)(key=key)
    except KeyError:
        raise Skip(f"no {kind} {key!r}") from None


def _select(key: str, pick: Callable[[list], object], kind: str = "selectbox") -> Callable:
    def act(at) -> None:
        w = _get(at, kind, key)
        w.set_value(pick(list(w.options))).run()

    return act


def _select_index(key: str, pick: Callable[[list, int], int]) -> Callable:
    """Choose an option by position (``pick(shown options, current index)``).

    The pages' ``format_func`` labels start with the raw value and " · " (AppTest sets raw values).
    """

    def act(at) -> None:
        w = _get(at, "selectbox", key)
        options = list(w.options)
        w.set_value(options[pick(options, w.index)].split(" · ")[0]).run()

    return act


def _set(key: str, value: object, kind: str) -> Callable:
    return lambda at: _get(at, kind, key).set_value(value).run()


def _click(key: str) -> Callable:
    return lambda at: _get(at, "button", key).click().run()


def _submit(label: str) -> Callable:
    def act(at) -> None:
        for b in at.button:
            if b.label == label:
                b.click().run()
                return
        raise Skip(f"no button {label!r}")

    return act


def _has_state(key: str) -> Callable:
    """A page shows a background job's result once it stored it under ``key`` in the session state."""
    return lambda at: at.session_state.get(key) is not None


def _settled(at) -> bool:
    """No progress bar of background work left on the page."""
    return len(at.get("progress")) == 0


def _has_text(*needles: str) -> Callable:
    """A page shows a background job's result when one of ``needles`` is in a success/info/markdown/caption element."""

    def done(at) -> bool:
        for kind in ("success", "info", "markdown", "caption", "error", "metric"):
            for el in getattr(at, kind):
                text = str(getattr(el, "value", "")) + str(getattr(el, "label", ""))
                if any(n in text for n in needles):
                    return True
        return False

    return done


def _view(key: str, label: str) -> Callable:
    """Open a lazy tab (``st.tabs(..., on_change="rerun")``): AppTest has no tab click, the tab's state is its label."""

    def act(at) -> None:
        at.session_state[key] = label
        at.run()

    return act


@dataclass
class Step:
    """One interaction: ``act`` changes a widget and reruns; ``done`` (background work) says when the result is on the page."""

    label: str
    act: Callable
    done: Callable | None = None


def _next(options: list, current: int | None) -> int:
    if len(options) < 2:
        raise Skip("one option")
    return 1 if not current else 0


STEPS: dict[str, list[Step]] = {
    "pages/dashboard.py": [
        Step("symbol", _select("dash_symbol", lambda o: next(x for x in o if x.startswith("MSFT")))),
        Step("full history", _set("dash_full_history", True, "toggle")),
        Step("run the live-vs-backtest diff", _click("dash_diff_run"), done=_settled),
    ],
    "pages/trading.py": [
        Step("symbol", _select("tr_symbol", lambda o: "MSFT")),
        Step("bars shown", _set("tr_n", 500, "select_slider")),
        Step("EMA overlay", _set("tr_ema", True, "toggle")),
        Step("Bollinger overlay", _set("tr_bb", True, "toggle")),
        Step("order type", _select("tk_type", lambda o: "limit")),
        Step("preview risk decision", _click("tk_preview")),
        Step("queue order", _click("tk_submit")),
    ],
    "pages/portfolio.py": [
        Step("performance view (tab)", _view("portfolio_view", "Performance")),
        Step("rolling window", _set("pf_window", 126, "select_slider")),
        Step("trades view (tab)", _view("portfolio_view", "Trades")),
        Step("side filter", _select("pf_side", lambda o: "long")),
        Step("outcome filter", _select("pf_outcome", lambda o: "winners")),
        Step("symbols filter", _select("pf_symbols", lambda o: [o[0]], kind="multiselect")),
    ],
    "pages/backtest.py": [
        Step("strategy", _select_index("bt_strategy", _next)),
        Step("strategy back", _select_index("bt_strategy", lambda o, i: next(k for k, x in enumerate(o) if x.startswith("sma_cross")))),
        Step("run backtest", _click("bt_run")),
        Step("bars on the chart", _set("bt_chart_span", 1000, "select_slider")),
        Step("compare without caps", _click("bt_uncapped")),
        Step("compare strategies", _click("cmp_run"), done=_has_state("cmp_result")),
        Step("run sweep", _click("sw_run"), done=_has_state("sw_result")),
        Step("sweep colour by", _select("sw_metric", lambda o: "Return %")),
        Step("run walk-forward", _click("wf_run"), done=_has_state("wf_result")),
    ],
    "pages/models.py": [
        Step("regime symbol", _select_index("models_regime_symbol", _next), done=_settled),
        Step("model version", _select_index("models_pick", _next), done=_settled),
        Step("leakage audit", _click("models_audit"), done=_has_state("models_audit_result")),
        Step("health check", _click("models_health_check")),
        Step("train (tiny, AAPL)", _click("models_train"), done=_has_text("Saved ")),
    ],
    "pages/risk.py": [
        Step("research view (tab)", _view("risk_view", "Research")),
        Step("symbol", _select("risk_symbol", lambda o: "MSFT")),
        Step("confidence", _set("risk_level", 0.95, "select_slider")),
        Step("rolling window", _set("risk_window", 500, "select_slider")),
        Step("GARCH forecast on", _set("risk_garch", True, "checkbox"), done=_has_text("GARCH row is the conditional")),
        Step("forecast backtest", _click("risk_fx_run"), done=_has_state("risk_fx")),
        Step("kill switch (ask)", _click("risk_kill")),
        Step("kill switch (cancel)", _click("risk_kill_cancel")),
    ],
    "pages/news.py": [
        Step("chart symbol", _select("news_chart_symbol", lambda o: "MSFT")),
        Step("symbol", _select("news_symbol", lambda o: "AAPL")),
        Step("sentiment filter", _select("news_labels", lambda o: ["positive"], kind="multiselect")),
        Step("search", _set("news_query", "earnings", "text_input")),
        Step("full history", _set("news_full_history", True, "toggle")),
        Step("fetch", _click("news_fetch")),
    ],
    "pages/settings.py": [
        Step("stop kind", _select_index("set_stop_kind", _next)),
        Step("save risk limits", _submit("Save risk limits")),
        Step("save fill model", _submit("Save fill model")),
    ],
}


def _wait(at, done: Callable, timeout: float = 300.0) -> float:
    """Rerun every 0.25 s until ``done(at)``; return the seconds waited (the click's rerun excluded)."""
    t0 = time.perf_counter()
    while not done(at):
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("timed out waiting for a background result")
        time.sleep(0.25)
        at.run()
    return time.perf_counter() - t0


def _quiet(timeout: float = 300.0) -> None:
    """Wait for background tasks a previous page left running (a regime fit the last step started...), so they do not slow the next page."""
    try:
        from core.services.background import running
    except ImportError:  # a checkout without background tasks
        return
    for task in running():
        task.wait(timeout)


def _seed_models() -> None:
    """Train two tiny models on AAPL, as a user does from the page, so the Models page has a report, a regime timeline and a version choice."""
    from core import services

    for h in (5, 10):
        services.train(["AAPL"], h, preset="tiny", members=("rf",), n_splits=3, importance_rows=200)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--populated", action="store_true", help="step a paper session over 300 bars and train two tiny models first")
    parser.add_argument("--pages", default="", help="comma-separated page names (default: all)")
    parser.add_argument("--warm", action="store_true", help="keep st.cache_data between runs")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    os.environ["APP__STORE__DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
    os.environ["APP__LOG__DIR"] = f"{tmp}/logs"
    os.environ["APP__DATA__MODELS_DIR"] = f"{tmp}/models"
    os.environ["APP__SCHEDULER__EMBEDDED"] = "false"
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    if args.populated:
        from core import services
        from tests.ui.populate import populate_paper

        populate_paper(services.get_context())
        _seed_models()

    from server import warm_up

    warm_up()  # what the app server does at start (imports, data index), so first renders compare with a served page
    # background-task workers start with the first task that needs one, as in the server (a prestart at server start
    # competed with the first page load: bench/pages.py cold loads went from 1.0-1.8 s to 2.0-3.2 s)
    wanted = {p.strip() for p in args.pages.split(",") if p.strip()}
    pages = [p for p in STEPS if not wanted or Path(p).stem in wanted]
    first: dict[str, list[float]] = {p: [] for p in pages}
    inter: dict[tuple[str, str], list[float]] = {}
    after: dict[tuple[str, str], list[float]] = {}
    for page in pages:
        for _ in range(args.runs):
            _quiet()
            if not args.warm:
                st.cache_data.clear()
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
            t0 = time.perf_counter()
            at.switch_page(page).run()
            first[page].append(time.perf_counter() - t0)
            if at.exception:
                raise SystemExit(f"{page} raised: {at.exception[0].message}")
            for step in STEPS[page]:
                t0 = time.perf_counter()
                try:
                    step.act(at)
                except Skip:
                    continue
                inter.setdefault((page, step.label), []).append(time.perf_counter() - t0)
                if at.exception:
                    raise SystemExit(f"{page} / {step.label} raised: {at.exception[0].message}")
                if step.done is not None:
                    try:
                        after.setdefault((page, step.label), []).append(_wait(at, step.done))
                    except TimeoutError as exc:
                        raise SystemExit(f"{page} / {step.label}: {exc}") from None
                print(f"{Path(page).stem} / {step.label}: {inter[(page, step.label)][-1] * 1000:.0f} ms", file=sys.stderr, flush=True)
    state = "store with 300 bars of paper history and two tiny models" if args.populated else "fresh store"
    caches = "caches kept between runs (warm)" if args.warm else "st.cache_data cleared before each run (cold)"
    print(f"AppTest timings of {args.runs} runs, ms; {state}; {caches}; load {os.getloadavg()[0]:.2f} at the end\n")
    print("| page | interaction | median | 1st run | result on the page after: median (1st run), background work |\n|---|---|---:|---:|---:|")
    for page in pages:
        name = Path(page).stem
        print(f"| {name} | first render | {statistics.median(first[page]) * 1000:.0f} | {first[page][0] * 1000:.0f} | |")
        for step in STEPS[page]:
            times = inter.get((page, step.label))
            if not times:
                print(f"| {name} | {step.label} | n/a | | |")
                continue
            waits = after.get((page, step.label))
            bg = f"{statistics.median(waits) * 1000:,.0f} ({waits[0] * 1000:,.0f})" if waits else ""
            mark = " **over**" if statistics.median(times) > 0.3 else ""
            print(f"| {name} | {step.label} | {statistics.median(times) * 1000:.0f}{mark} | {times[0] * 1000:.0f} | {bg} |")


if __name__ == "__main__":
    main()
