"""Job functions. APScheduler stores jobs by reference, so these are module-level
functions taking only JSON-friendly arguments; each gets the process context.

Every job catches its own errors: a failing tick is logged, recorded in the loop
status and notified, and the next tick runs as usual.
"""

from __future__ import annotations

import logging
import time
import traceback

from core.services import get_context, report_job_error

log = logging.getLogger("jobs")


def _guard(name: str, fn) -> None:
    ctx = get_context()
    started = time.perf_counter()
    try:
        fn(ctx)
    except Exception as exc:
        log.error("job %s failed: %s", name, exc)
        report_job_error(name, exc, ctx=ctx)
        ctx.store.audit("loop_error", f"{name} failed: {exc}", {"traceback": traceback.format_exc()[-4000:]})
        _notify_error(ctx, name, exc)
    finally:
        log.debug("job %s took %.1f ms", name, (time.perf_counter() - started) * 1000)


def _notify_error(ctx, name: str, exc: Exception) -> None:
    from core.services import notify_error

    try:
        notify_error(name, exc, ctx=ctx)
    except Exception as err:
        log.warning("could not notify about %s: %s", name, err)


def trading_tick() -> None:
    """Run one tick of the trading pipeline (no-op while the toggle is off)."""
    from core.services import run_tick

    _guard("trading_tick", run_tick)


def retrain() -> None:
    """Retrain the ensemble on the configured symbols."""
    from core.services import retrain_models

    _guard("retrain", retrain_models)


def model_health() -> None:
    """Check the pinned model's health (drift alarm, notification, optional entry stop); nothing before a model exists."""

    def _check(ctx) -> None:
        from core.services import ModelNotFound, check_model_health

        try:
            check_model_health(ctx=ctx)
        except ModelNotFound:
            return

    _guard("model_health", _check)


def collect_news() -> None:
    """Fetch configured news sources and score them."""
    def _collect(ctx) -> None:
        try:
            from core.services import fetch_news
        except ImportError:
            return
        fetch_news(ctx=ctx)

    _guard("collect_news", _collect)


def equity_snapshot() -> None:
    """Store the account's equity (for the dashboard's equity curve)."""
    from core.services import snapshot_equity

    _guard("equity_snapshot", snapshot_equity)


def live_diff() -> None:
    """Re-run the backtest over the bars the paper session processed and diff it against what the session did."""
    from core.services import run_diff_job

    _guard("live_diff", run_diff_job)
