"""Backtest-vs-live diff of a trading session: run it, store it per day, alert on a gap, read it back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from sqlmodel import delete, select

from core.config import RiskSettings
from core.services.context import Context, get_context
from core.trading.diff import CAUSES, NoSession, SessionDiff, diff_session

STATUS_KEY = "diff.{account}"

__all__ = ["CAUSES", "NoSession", "diff_days", "diff_status", "run_diff_job", "session_diff"]


def _risk_at_start(session: dict[str, Any], ctx: Context) -> Any:
    from core.services.settings import risk_limits

    stored = session.get("risk_limits")
    return RiskSettings.model_validate(stored) if stored else risk_limits(ctx)


def _gap(diff: SessionDiff, cash: float) -> float:
    return max(100.0 - diff.match_pct, abs(diff.pnl_diff) / cash * 100.0)


def session_diff(account: str | None = None, *, load: Callable[[str], pd.DataFrame] | None = None, save: bool = True,
                 actor: str = "system", ctx: Context | None = None) -> dict[str, Any]:
    """Diff ``account``'s session (default ``trading.account``) against its backtest; store and alert unless ``save`` is False.

    Returns the summary (match %, P&L gap, divergences with their causes, both equity curves and the
    per-day rows). ``load(symbol)`` replaces the bars (default: those the session's feed released, from
    the data store or a live feed's bar cache). Raises :class:`core.trading.diff.NoSession` when the account has not traded yet.
    """
    from core.services.strategy import build_strategy

    ctx = ctx or get_context()
    account = account or ctx.settings.trading.account
    session = ctx.store.get_setting(f"loop.{account}.session") or {}
    if not session:
        raise NoSession(f"account {account!r} has no trading session yet; start paper trading first")
    loader = load or _session_bars(session, ctx)
    diff = diff_session(ctx.store, account, loader, lambda name, params: build_strategy(name, params, ctx), _risk_at_start(session, ctx))
    out = diff.summary()
    out["gap_pct"] = _gap(diff, float(session["cash"]))
    out["threshold_pct"] = ctx.settings.trading.diff_alert_pct
    out["computed_at"] = ctx.clock.now().isoformat()
    out["equity"] = {"ts": [t.isoformat() for t in diff.live_equity.index], "live": diff.live_equity.round(6).tolist(),
                     "backtest_ts": [t.isoformat() for t in diff.backtest_equity.index], "backtest": diff.backtest_equity.round(6).tolist()}
    out["days"] = diff.days
    if save:
        _store(account, diff, ctx)
        ctx.store.set_setting(STATUS_KEY.format(account=account), out)
        first = out["first_divergence"]
        msg = (f"live vs backtest ({account}): {out['match_pct']:.1f}% orders match over {out['bars']} bars, P&L gap {out['pnl_diff']:+,.2f}, "
               f"{out['n_divergences']} divergence(s)" + (f"; first at {first['ts'][:19]}: {first['label']} ({first['detail']})" if first else ""))
        ctx.store.audit("live_diff", msg, {k: out[k] for k in ("match_pct", "pnl_diff", "n_divergences", "gap_pct", "first_divergence")}, actor=actor)
        last_alert = ctx.store.get_setting(f"{STATUS_KEY.format(account=account)}.alerted")
        if out["gap_pct"] > out["threshold_pct"] and last_alert != out["last_bar"]:
            _notify(msg, out, ctx)
            ctx.store.set_setting(f"{STATUS_KEY.format(account=account)}.alerted", out["last_bar"])
    return out


def _session_bars(session: dict[str, Any], ctx: Context) -> Callable[[str], pd.DataFrame]:
    """Return the bars the session's feed released: the stored history on the replay, the bar cache of a live feed or venue."""
    from core.services.data import load_bars
    from core.trading.feeds.live import make_source

    timeframe = session.get("timeframe", "1d")
    if session.get("feed", "replay") in ("replay", "sample"):
        return lambda symbol: load_bars(symbol, timeframe=timeframe, ctx=ctx)
    # A live feed stores every bar before the loop sees it, under its source's name (polled or streamed alike); no request goes out.
    source = make_source(ctx, session["feed"]).name
    return lambda symbol: ctx.store.load_bars(symbol, timeframe, source)


def _store(account: str, diff: SessionDiff, ctx: Context) -> None:
    from core.store.tables import SessionDiffRow

    now = ctx.clock.now()
    with ctx.store.session() as s:
        s.exec(delete(SessionDiffRow).where(SessionDiffRow.account == account))
        for row in diff.days:
            s.add(SessionDiffRow(account=account, computed_at=now, **row))


def _notify(message: str, out: dict[str, Any], ctx: Context) -> None:
    from core.notify.events import EventKind, NotifyEvent
    from core.services.notifications import notify_event

    first = out["first_divergence"]
    lines = (f"gap {out['gap_pct']:.1f}% > threshold {out['threshold_pct']:.1f}% (trading.diff_alert_pct)",
             *([f"first divergence {first['ts'][:19]}: {first['label']}: {first['detail']}"] if first else []))
    event = NotifyEvent(EventKind.LIVE_GAP, ctx.clock.now(), message.split(";")[0][:200], lines,
                        {"match_pct": out["match_pct"], "pnl_diff": out["pnl_diff"], "gap_pct": out["gap_pct"]})
    notify_event(event, ctx=ctx)


def diff_status(account: str | None = None, ctx: Context | None = None) -> dict[str, Any] | None:
    """Return the last stored diff summary of ``account`` (None before the first run)."""
    ctx = ctx or get_context()
    return ctx.store.get_setting(STATUS_KEY.format(account=account or ctx.settings.trading.account))


def diff_days(account: str | None = None, ctx: Context | None = None) -> list[dict[str, Any]]:
    """Return the stored per-day rows (match %, P&L live/backtest/difference, first divergence and its cause)."""
    from core.store.tables import SessionDiffRow

    ctx = ctx or get_context()
    account = account or ctx.settings.trading.account
    with ctx.store.session() as s:
        rows = s.exec(select(SessionDiffRow).where(SessionDiffRow.account == account).order_by(SessionDiffRow.day)).all()
        return [r.model_dump(exclude={"id", "computed_at"}) for r in rows]


def run_diff_job(ctx: Context | None = None) -> dict[str, Any] | None:
    """Job entry point: diff the configured account when it processed new bars since the last diff (nothing otherwise)."""
    ctx = ctx or get_context()
    account = ctx.settings.trading.account
    last = ctx.store.get_setting(f"loop.{account}.last_bar")
    if not last:
        return None
    done = diff_status(account, ctx) or {}
    if done.get("last_bar") == pd.Timestamp(last).isoformat():
        return None
    return session_diff(account, actor="scheduler", ctx=ctx)
