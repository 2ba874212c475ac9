"""The windows of the models a paper session trades: what each was trained on, what it trades, and whether they overlap.

Kept apart from :mod:`core.services.strategy` (which trains) so the leakage audit in
:mod:`core.services.models` can read it without an import cycle.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.services.context import Context, get_context

TRAIN_HORIZON = 5  # label horizon (bars) of a model a session trains for itself; also its embargo


def utc(ts: Any) -> pd.Timestamp:
    """Return ``ts`` as a UTC timestamp (naive values are taken as UTC)."""
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t


def model_windows(ctx: Context | None = None) -> list[dict[str, Any]]:
    """Return each model the paper session trades with its training window, the bars it trades and whether they overlap.

    A model may trade only bars after its training data ends plus an embargo of
    ``TRAIN_HORIZON`` bars (:func:`pin_params`' rule, also the retrain schedule's). Rows:
    ``model_id``, ``trained_from``, ``trained_to``, ``trades_from`` (its first tradable bar),
    ``trades_to`` (its last traded bar so far, None before any), ``gap_bars`` (bars strictly
    between its training data and ``trades_from``) and ``overlap`` (``gap_bars`` < the embargo).
    Empty when no ensemble session exists.
    """
    from core.models.registry import ModelNotFound, get_run
    from core.services.data import load_bars

    ctx = ctx or get_context()
    account = ctx.settings.trading.account
    session = ctx.store.get_setting(f"loop.{account}.session") or {}
    params = session.get("params") or {}
    if session.get("strategy") != "ensemble" or not params.get("model_id"):
        return []
    frames = [load_bars(s, timeframe=session.get("timeframe", "1d"), ctx=ctx).index for s in session["symbols"]]
    calendar = pd.DatetimeIndex(sorted(set().union(*frames)))
    calendar = calendar.tz_localize("UTC") if calendar.tz is None else calendar
    warm_end = utc(session["warmup_end"]) if session.get("warmup_end") else calendar[int(session["warmup_bars"]) - 1]
    last = ctx.store.get_setting(f"loop.{account}.last_bar")
    last_bar = utc(last) if last else None
    starts = [(warm_end, params["model_id"]), *((utc(after), mid) for after, mid in params.get("model_schedule") or [])]
    rows = []
    for i, (after, model_id) in enumerate(starts):
        first = int(calendar.searchsorted(after, side="right"))  # the first bar after `after` is the model's first tradable bar
        until = starts[i + 1][0] if i + 1 < len(starts) else last_bar
        try:
            run = get_run(ctx.store, model_id)
        except ModelNotFound:
            rows.append({"model_id": model_id, "trained_from": None, "trained_to": None, "trades_from": None, "trades_to": None,
                         "gap_bars": None, "overlap": None, "note": "model not in the registry"})
            continue
        trained_to = utc(run.data_end)
        gap = first - int(calendar.searchsorted(trained_to, side="right"))  # bars strictly after its data, before its first trade
        traded = last_bar is not None and first < len(calendar) and calendar[first] <= last_bar
        rows.append({
            "model_id": model_id, "trained_from": utc(run.data_start) if run.data_start else None, "trained_to": trained_to,
            "trades_from": calendar[first] if first < len(calendar) else None, "trades_to": min(until, last_bar) if traded and until else None,
            "gap_bars": gap, "overlap": gap < TRAIN_HORIZON, "note": "",
        })  # fmt: skip
    return rows
