"""VaR backtest on bundled data: each method's one-day coverage and Kupiec's POF test.

Run: ``.venv/bin/python bench/var_backtest.py [--window 500] [--no-append] [--dask WORKERS]``. Prints a
table and appends it to bench/RESULTS.md. Forecasts use only the previous
``window`` returns; GARCH(1,1)-t is refitted every 20 days and filters the days in
between with fixed parameters. Nothing here is a timing; the numbers are coverage.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.data.providers import SampleProvider  # noqa: E402
from core.research import DaskExecutor, SequentialExecutor  # noqa: E402
from core.research.var_jobs import var_backtests  # noqa: E402
from core.risk.var_backtest import METHODS  # noqa: E402

SERIES = ("SPX", "AAPL", "GOOG", "BTC-USD")
LEVELS = (0.95, 0.99)


def main(argv: list[str] | None = None) -> int:
    """Run the backtest and print (and append) the results table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--window", type=int, default=500)
    ap.add_argument("--no-append", action="store_true")
    ap.add_argument("--dask", type=int, metavar="WORKERS", help="run the backtests on a local Dask cluster of this many workers")
    args = ap.parse_args(argv)
    sample = SampleProvider(ROOT / "data" / "sample")
    lines = [
        f"## VaR backtest (Kupiec POF), window {args.window} days, one-day horizon — {datetime.now(UTC):%Y-%m-%d}",
        "",
        "`bench/var_backtest.py`. x = exceedances (return below -VaR) in n one-step-ahead forecasts; "
        "expected n(1-level); LR ~ chi2(1); p < 0.05 rejects correct coverage.",
        "",
        "| series | n | level | method | x | expected | rate | LR | p-value | verdict |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    returns = {symbol: sample.bars(symbol, "1d", None, None)["close"].pct_change().dropna() for symbol in SERIES}
    executor = DaskExecutor(n_workers=args.dask) if args.dask else SequentialExecutor()
    for res in var_backtests(returns, METHODS, LEVELS, window=args.window, executor=executor).itertuples():
        verdict = "reject" if res.rejected else "ok"
        lines.append(
            f"| {res.symbol} | {res.n} | {res.level:.0%} | {res.method} | {res.exceedances} | {res.expected:.1f} | "
            f"{res.rate:.2%} | {res.lr:.2f} | {res.p_value:.3f} | {verdict} |"
        )
        print(lines[-1], flush=True)
    table = "\n".join(lines) + "\n"
    print()
    print(table)
    if not args.no_append:
        out = ROOT / "bench" / "RESULTS.md"
        head = "" if out.exists() else "# Benchmark results\n\n"
        with out.open("a") as fh:
            fh.write(head + table + "\n")
        print(f"appended to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
