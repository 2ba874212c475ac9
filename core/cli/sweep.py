"""``python -m core sweep --strategy NAME --symbols A,B --grid fast=5:50:5 --grid slow=20:200:10 [--random N] [--walk-forward N]``."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from core.cli import CliError, _args, emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` command."""
    p = sub.add_parser("sweep", help="sweep strategy parameters over symbols (risk-checked, on Dask) with deflated Sharpe and PBO")
    p.add_argument("--strategy", default="sma_cross", help="strategy name (sma_cross, ...)")
    p.add_argument("--symbols", help="comma-separated bundled symbols, e.g. AAPL,MSFT,GOOG")
    p.add_argument("--grid", action="append", default=[], metavar="NAME=START:STOP:STEP",
                   help="parameter range (stop included) or list NAME=a,b,c; repeatable")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="fixed parameter, repeatable (e.g. mode=long_flat)")
    p.add_argument("--random", type=int, metavar="N", help="draw N parameter sets at random from the grid instead of all")
    p.add_argument("--seed", type=int, default=0, help="seed of --random (default 0)")
    p.add_argument("--walk-forward", type=int, metavar="N", dest="walk_forward",
                   help="walk-forward optimisation over N windows: report only the stitched out-of-sample result")
    p.add_argument("--anchored", action="store_true", help="walk-forward training windows start at the first bar")
    p.add_argument("--start", type=_args.date)
    p.add_argument("--end", type=_args.date)
    p.add_argument("--timeframe", type=_args.timeframe, default="1d")
    p.add_argument("--cash", type=_args.positive("cash", "10000", high=1e12), default=10_000.0)
    p.add_argument("--commission", type=_args.commission, default=0.0, help="rate on notional per fill, e.g. 0.001 (below 0.1)")
    p.add_argument("--size", default="all-in", help="'all-in' or a fraction of equity such as 0.5")
    p.add_argument("--risk", choices=["configured", "permissive"], default="configured", help="risk limits every order is checked against")
    p.add_argument("--workers", type=_args.count("--workers", 0, 512),
                   help="worker processes of the local cluster (default: research.n_workers, 0 = one per core)")
    p.add_argument("--sequential", action="store_true", help="run in this process without Dask (for comparison)")
    p.add_argument("--show", metavar="SWEEP_ID", help="print a stored sweep instead of running one")
    p.add_argument("--list", action="store_true", help="list stored sweeps")
    p.add_argument("--top", type=_args.count("--top", 1), default=10, help="trials to print, best first (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run)


def _pairs(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise CliError(f"--param needs NAME=VALUE (e.g. --param mode=long_flat), got {pair!r}")
        key, value = (x.strip() for x in pair.split("=", 1))
        try:
            out[key] = int(value)
        except ValueError:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out


def _fmt(value: Any, pattern: str = "{:.3f}") -> str:
    return "n/a" if value is None or (isinstance(value, float) and not math.isfinite(value)) else pattern.format(value)


def _progress(enabled: bool):
    if not enabled:
        return None

    def show(done: int, total: int) -> None:
        print(f"\r  {done}/{total} trials", end="" if done < total else "\n", file=sys.stderr, flush=True)

    return show


def _text(res) -> str:
    s = res.summary
    lines = [f"sweep {res.sweep_id}: {s['strategy']} on {', '.join(s['symbols'])}",
             f"  trials {s['n_trials']} ({res.ran} run now, {res.reused} stored before; {s['n_skipped']} invalid combinations skipped, "
             f"{s['n_failed']} failed) on {res.executor}"]
    if s["best"]:
        b, d, p = s["best"], s["dsr"], s["pbo"] or {}
        lines += [f"  best: {b['symbol']} {b['params']}  Sharpe {_fmt(b['metrics'].get('sharpe'), '{:.2f}')}  return "
                  f"{_fmt(b['metrics'].get('return_pct'), '{:+.2f}')} %  trades {_fmt(b['metrics'].get('trades'), '{:.0f}')}",
                  f"  deflated Sharpe ratio {_fmt(d['dsr'])}  (expected best Sharpe by luck {_fmt(d['expected_max_sharpe_annual'], '{:.2f}')})",
                  f"  probability of backtest overfitting {_fmt(p.get('pbo'))}" + (f"  ({p['reason']})" if p.get("reason") else "")]
    lines += [f"  warning: {w}" for w in s["warnings"]]
    return "\n".join(lines)


def _table(res, top: int) -> str:
    frame = res.trials
    if "sharpe" not in frame or not len(frame):
        return ""
    cols = [c for c in frame.columns if c.startswith("p_")]
    shown = frame.sort_values("sharpe", ascending=False).head(top)
    rows = ["  " + "  ".join([f"{'symbol':8s}", *[f"{c[2:]:>10s}" for c in cols], f"{'sharpe':>8s}", f"{'return %':>9s}", f"{'trades':>6s}"])]
    for _, r in shown.iterrows():
        rows.append("  " + "  ".join([f"{r['symbol']:8s}", *[f"{r[c]!s:>10s}" for c in cols], f"{_fmt(r['sharpe'], '{:.2f}'):>8s}",
                                      f"{_fmt(r['return_pct'], '{:+.2f}'):>9s}", f"{_fmt(r['trades'], '{:.0f}'):>6s}"]))
    return "\n".join(rows)


def _run(args: argparse.Namespace) -> int:
    from core import services

    if args.list:
        items = services.list_sweeps()
        emit(items, args.json, "\n".join(f"{i['sweep_id']}  {i['updated'][:19]}  {i['strategy']:10s} {i['symbols']:24s} {i['status']:8s} "
                                         f"trials {i['trials']}  DSR {_fmt(i['dsr'])}  PBO {_fmt(i['pbo'])}" for i in items) or "no sweeps stored yet")
        return 0
    if args.show:
        res = services.sweep_result(args.show)
        emit(res.to_dict(), args.json, _text(res) + "\n" + _table(res, args.top))
        return 0
    if not args.symbols:
        raise CliError("give --symbols, e.g. --symbols AAPL,MSFT,GOOG (see 'python -m core data list')")
    if not args.grid:
        raise CliError("give at least one --grid NAME=START:STOP:STEP, e.g. --grid fast=5:50:5 --grid slow=20:200:10")
    common = dict(random=args.random, seed=args.seed, params=_pairs(args.param), timeframe=args.timeframe, start=args.start, end=args.end,
                  cash=args.cash, commission=args.commission, size=args.size, risk=args.risk, workers=args.workers, sequential=args.sequential,
                  progress=_progress(not args.json and sys.stderr.isatty()))
    if args.walk_forward is not None:
        wf = services.walk_forward(args.strategy, args.symbols, args.grid, windows=args.walk_forward, anchored=args.anchored, **common)
        lines = [f"walk-forward {args.strategy} on {args.symbols}: {args.walk_forward} windows, out-of-sample only"]
        for name, m in wf.metrics.items():
            lines.append(f"  {name:10s} return {_fmt(m['return_pct'], '{:+.2f}')} %  CAGR {_fmt(m['cagr_pct'], '{:+.2f}')} %  "
                         f"Sharpe {_fmt(m['sharpe'], '{:.2f}')}  max drawdown {_fmt(m['max_drawdown_pct'], '{:.2f}')} %")
        for _, w in wf.windows.iterrows():
            lines.append(f"  {w['symbol']:8s} window {w['window']}: trained to {str(w['test_start'])[:10]} -> {w['params']} "
                         f"test {str(w['test_start'])[:10]}..{str(w['test_end'])[:10]} Sharpe {_fmt(w['test_sharpe'], '{:.2f}')}")
        emit(wf.to_dict(), args.json, "\n".join(lines))
        return 0
    res = services.sweep(args.strategy, args.symbols, args.grid, **common)
    emit(res.to_dict(), args.json, _text(res) + "\n" + _table(res, args.top))
    return 0
