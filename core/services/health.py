"""Model health of the pinned model (drift alarm, its audit, notification and entry stop) and the retrain job's status."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlmodel import select

from core.models.drift import DriftThresholds, assess
from core.risk.state import DRIFT_HALT_KEY
from core.services.context import Context, get_context
from core.services.data import load_bars

HEALTH_KEY = "models.health"
RETRAIN_KEY = "models.retrain.status"


def pinned_model(account: str | None = None, ctx: Context | None = None) -> dict[str, Any]:
    """Return the model the paper session trades now (``model_id``, ``session``), or the latest model without a session."""
    from core.models.registry import get_run

    ctx = ctx or get_context()
    account = account or ctx.settings.trading.account
    session = ctx.store.get_setting(f"loop.{account}.session") or {}
    params = session.get("params") or {}
    schedule = params.get("model_schedule") or []
    model_id = schedule[-1][1] if schedule else params.get("model_id")
    if session.get("strategy") != "ensemble" or not model_id:
        return {"model_id": get_run(ctx.store).id, "session": None, "account": account}
    return {"model_id": model_id, "session": session, "account": account}


def _utc(t: Any) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _train_features(art: Any, run: Any, ctx: Context) -> pd.DataFrame:
    from core.services.models import _features

    cache = ctx.extras.setdefault("health_train_features", {})
    if art.model_id not in cache:
        frames = []
        for sym in art.symbols:
            bars = load_bars(sym, timeframe=art.params.get("timeframe", "1d"), ctx=ctx)
            bars = bars.loc[: _utc(run.data_end)]
            frames.append(_features(art, sym, bars, ctx).iloc[art.feature_config.warmup :])
        cache.clear()  # one model at a time: bounded memory
        cache[art.model_id] = pd.concat(frames).dropna()
    return cache[art.model_id]


def _signals(model_id: str, symbol: str, since: pd.Timestamp, until: pd.Timestamp, ctx: Context) -> pd.Series:
    from core.store.tables import SignalRow

    with ctx.store.session() as s:
        q = select(SignalRow.ts, SignalRow.p_up).where(SignalRow.model_id == model_id, SignalRow.symbol == symbol)
        rows = s.exec(q.where(SignalRow.ts >= since.to_pydatetime(), SignalRow.ts <= until.to_pydatetime())).all()
    if not rows:
        return pd.Series(dtype=float)
    idx = pd.DatetimeIndex([pd.Timestamp(t) for t, _ in rows])
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    return pd.Series([p for _, p in rows], index=idx).groupby(level=0).last()


def model_health(account: str | None = None, model_id: str | None = None, ctx: Context | None = None) -> dict[str, Any]:
    """Return the health report of the pinned (or given) model over the last ``models.drift.window`` live bars.

    Live bars are the paper session's processed bars (its p(up) from the signals table);
    without a session, the bars after the model's training data (p(up) predicted now).
    Keys: ``model_id``, ``window`` (first/last live bar), ``alarm``, ``reasons``, the PSI of the
    most drifted features, Brier, Spiegelhalter z, the reliability table, the hit rate and its
    interval against the out-of-sample accuracy.
    """
    from core.models.registry import get_run
    from core.services.models import _features, load_model, predict_history

    ctx = ctx or get_context()
    drift = ctx.settings.models.drift
    pin = pinned_model(account, ctx) if model_id is None else {"model_id": model_id, "session": None, "account": account}
    art = load_model(pin["model_id"], ctx)
    run = get_run(ctx.store, art.model_id)
    session = pin["session"]
    h = art.horizon
    account = pin["account"] or ctx.settings.trading.account
    last = ctx.store.get_setting(f"loop.{account}.last_bar") if session else None
    symbols = session["symbols"] if session else art.symbols
    timeframe = session["timeframe"] if session else art.params.get("timeframe", "1d")
    end_train = _utc(run.data_end)
    live_feats, ps, ys, span = [], [], [], []
    for sym in symbols:
        bars = load_bars(sym, timeframe=timeframe, ctx=ctx)
        if last:
            bars = bars.loc[: pd.Timestamp(last)]
        live = bars.index[bars.index > end_train][-drift.window :]
        if len(live) == 0:
            continue
        span += [live[0], live[-1]]
        hist = bars.loc[: live[-1]].iloc[-(len(live) + art.feature_config.warmup + 70) :]
        live_feats.append(_features(art, sym, hist, ctx).loc[live].dropna())
        p = _signals(art.model_id, sym, live[0], live[-1], ctx) if session else predict_history(sym, bars=hist, model_id=art.model_id, ctx=ctx)["p_up"]
        p = p[p.index.isin(live)]  # the feature history before the window is context, not live
        close = bars["close"]
        pos = close.index.get_indexer(p.index)
        ok = (pos >= 0) & (pos + h < len(close))  # only outcomes already realised
        fwd = close.to_numpy()[np.minimum(pos + h, len(close) - 1)] / close.to_numpy()[pos]
        ps.append(p.to_numpy()[ok])
        ys.append((fwd[ok] > 1.0).astype(float))
    overall = (art.report or {}).get("overall", {})
    report = assess(
        _train_features(art, run, ctx)[art.columns] if live_feats else None, pd.concat(live_feats) if live_feats else None,
        np.concatenate(ps) if ps else np.array([]), np.concatenate(ys) if ys else np.array([]),
        oos_accuracy=(overall.get("accuracy") or {}).get("value"), oos_brier=(overall.get("brier") or {}).get("value"),
        overlap=h, thresholds=DriftThresholds.from_settings(drift),
    )  # fmt: skip
    return {"model_id": art.model_id, "account": account, "session": bool(session), "symbols": list(symbols), "horizon": h,
            "first_bar": min(span).isoformat() if span else None, "last_bar": max(span).isoformat() if span else None,
            **report.to_dict()}  # fmt: skip


def check_model_health(account: str | None = None, actor: str = "system", ctx: Context | None = None) -> dict[str, Any]:
    """Run :func:`model_health`, store it, and act when the alarm goes on or off.

    On: an audit row ``model_drift``, a ``model_drift`` notification, and, with
    ``models.drift.block_entries``, the risk engine's drift halt (new entries refused,
    closing allowed). Off (the checks are back in bounds, or another model is pinned):
    the halt is lifted and audited.
    """
    ctx = ctx or get_context()
    report = model_health(account, ctx=ctx)
    report["checked_at"] = ctx.clock.now().isoformat()
    before = ctx.store.get_setting(HEALTH_KEY) or {}
    was_on = bool(before.get("alarm")) and before.get("model_id") == report["model_id"]
    ctx.store.set_setting(HEALTH_KEY, report)
    block = ctx.settings.models.drift.block_entries
    halt = ctx.store.get_setting(DRIFT_HALT_KEY) or {}
    if report["alarm"] and not was_on:
        msg = f"model {report['model_id']} left its health bounds: " + "; ".join(report["reasons"])
        ctx.store.audit("model_drift", msg, {k: report[k] for k in ("model_id", "reasons", "calibration_z", "hit_rate", "drifted")}, actor=actor)
        _notify(msg, report, ctx)
    if report["alarm"] and block and not (halt.get("active") and halt.get("model_id") == report["model_id"]):
        ctx.store.set_setting(DRIFT_HALT_KEY, {"active": True, "model_id": report["model_id"], "since": report["checked_at"], "reasons": report["reasons"]})
        ctx.store.audit("model_drift", f"new entries stopped until {report['model_id']} is replaced (models.drift.block_entries)", actor=actor)
    elif halt.get("active") and (not report["alarm"] or halt.get("model_id") != report["model_id"]):
        ctx.store.set_setting(DRIFT_HALT_KEY, {"active": False, "model_id": halt.get("model_id"), "lifted": report["checked_at"]})
        ctx.store.audit("model_drift", f"drift halt lifted ({'alarm cleared' if not report['alarm'] else 'model replaced'})", actor=actor)
    return report


def _notify(message: str, report: dict[str, Any], ctx: Context) -> None:
    from core.notify.events import model_drift_event
    from core.services.notifications import get_notifier

    try:
        get_notifier(ctx).submit(model_drift_event(message, ctx.clock.now(), report["reasons"]))
    except Exception as exc:  # a notification failure must not hide the alarm
        ctx.store.audit("notify_error", f"could not notify the drift alarm: {exc}")


def health_status(ctx: Context | None = None) -> dict[str, Any]:
    """Return the last stored health check and the drift halt (for the Dashboard and the Models page)."""
    ctx = ctx or get_context()
    return {"health": ctx.store.get_setting(HEALTH_KEY), "halt": ctx.store.get_setting(DRIFT_HALT_KEY) or {"active": False},
            "block_entries": ctx.settings.models.drift.block_entries}  # fmt: skip


def next_retrain(now: datetime, hour_utc: int) -> datetime:
    """Return the next run of the daily retrain job (``scheduler.retrain_hour_utc``:00 UTC) after ``now``."""
    run = now.replace(hour=hour_utc, minute=0, second=0, microsecond=0)
    return run if run > now else run + timedelta(days=1)


def retrain_status(ctx: Context | None = None) -> dict[str, Any]:
    """Return the retrain job's last run (result, model produced, whether it replaced the pinned one) and its next run."""
    ctx = ctx or get_context()
    last = ctx.store.get_setting(RETRAIN_KEY) or {}
    return {**last, "next_run": next_retrain(ctx.clock.now(), ctx.settings.scheduler.retrain_hour_utc).isoformat(),
            "replace_rule": ctx.settings.models.replace_rule}  # fmt: skip
