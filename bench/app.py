"""AppTest render timings per page: first render and one interaction, median of several runs.

    .venv/bin/python bench/app.py [--runs 5]

Runs on a throw-away SQLite database with the bundled data. Targets: first
render < 1 s, interaction < 300 ms. Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _interaction(at, page: str) -> None:
    """One typical interaction per page: run a backtest on Backtest; else change the first selectbox, else rerun."""
    if page.endswith("backtest.py"):
        at.button(key="bt_run").click().run()
    elif len(at.selectbox):
        box = at.selectbox[0]
        options = list(box.options)
        box.set_value(options[-1] if box.value == options[0] else options[0]).run()
    else:
        at.run()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--populated", action="store_true", help="first step a paper session over 300 bars so the pages show history")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    os.environ["APP__STORE__DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
    os.environ["APP__LOG__DIR"] = f"{tmp}/logs"
    os.environ["APP__SCHEDULER__EMBEDDED"] = "false"
    from streamlit.testing.v1 import AppTest

    if args.populated:
        from core import services
        from tests.ui.populate import populate_paper

        populate_paper(services.get_context())

    pages = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))
    rows = []
    for page in pages:
        first, inter = [], []
        for _ in range(args.runs):
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
            t0 = time.perf_counter()
            at.switch_page(page).run()
            first.append(time.perf_counter() - t0)
            if at.exception:
                raise SystemExit(f"{page} raised: {at.exception[0].message}")
            t0 = time.perf_counter()
            _interaction(at, page)
            inter.append(time.perf_counter() - t0)
        rows.append((page, statistics.median(first) * 1000, statistics.median(inter) * 1000))
    print(f"AppTest timings, median of {args.runs} runs (ms){', store with 300 bars of paper history' if args.populated else ', fresh store'}\n")
    print("| page | first render | interaction |\n|---|---:|---:|")
    for page, f, i in rows:
        print(f"| {page} | {f:.0f} | {i:.0f} |")


if __name__ == "__main__":
    main()
