"""Strategies with what they need from the application: models, limits, regime models.

Strategies (``core.strategies``) never import the services; a strategy that needs a
trained model (``ensemble``) gets it here, through its constructor.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pandas as pd

from core.engine import Strategy
from core.services.context import Context, get_context
from core.services.windows import TRAIN_HORIZON
from core.services.windows import utc as _utc
from core.strategies import make_strategy


def signal_params(params: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    """Return the ensemble's ``params`` with the configured signal rules (``signals.cooldown_bars``, ``conflict_margin``) where not given."""
    cfg = (ctx or get_context()).settings.signals
    return {"cooldown_bars": cfg.cooldown_bars, "conflict_margin": cfg.conflict_margin, **params}


def build_strategy(name: str, params: dict[str, Any] | None = None, ctx: Context | None = None) -> Strategy:
    """Return strategy ``name`` with ``params``, given its model artifact and the limits in force when it trades a model."""
    params = dict(params or {})
    if name != "ensemble":
        return make_strategy(name, **params)
    from core.services.models import _regime_for, load_model
    from core.services.settings import risk_limits

    ctx = ctx or get_context()
    params = signal_params(params, ctx)
    from core.services.models import news_frame

    artifact = load_model(params.get("model_id") or None, ctx)
    ids = [artifact.model_id, *(m for _, m in params.get("model_schedule") or [])]
    # A model with sentiment features (models.features.sentiment) reads the stored headlines.
    news = news_frame(ctx) if any(load_model(i, ctx).feature_config.extra.get("sentiment") for i in ids) else None
    return make_strategy(name, artifact=artifact, limits=risk_limits(ctx), regime_for=partial(_regime_for, ctx=ctx), news=news,
                         load_artifact=partial(load_model, ctx=ctx), **params)  # fmt: skip


MIN_TRAIN_BARS = 300  # bars a symbol needs before the session to join that training


def _day(ts: Any) -> str:
    return _utc(ts).strftime("%Y-%m-%d") if ts is not None else "?"


def pin_params(name: str, params: dict[str, Any], frames: dict[str, Any], cutoff: Any, ctx: Context | None = None) -> dict[str, Any]:
    """Fix what a paper session trades at its start (the ensemble's model version).

    ``cutoff`` is the last warm-up bar: the session trades the bars after it. A model may
    trade only bars after its training data ends plus an embargo of its label horizon
    (``TRAIN_HORIZON`` bars). The newest stored model that ends early enough is pinned;
    when there is none, one is trained (preset ``tiny``) on the pre-session bars of every
    symbol that has at least ``MIN_TRAIN_BARS`` of them (a symbol listed later, such as
    GOOG from 2004, trades with the pooled model and a regime filter fitted on its first bars).

    Raises
    ------
    ValueError
        When the given ``model_id`` was trained on bars the session trades, or no symbol
        has enough history before the session to train on.
    """
    if name != "ensemble":
        return dict(params)
    params = make_strategy(name, **signal_params(params, ctx)).get_params()
    from core.models.registry import ModelNotFound, get_run, list_runs
    from core.services.models import train

    ctx = ctx or get_context()
    calendar = pd.DatetimeIndex(sorted(set().union(*(f.index for f in frames.values()))))
    last_warm = int(calendar.searchsorted(_utc(cutoff), side="right")) - 1
    if last_warm < 0:
        raise ValueError(f"no bar at or before the warm-up's end {_day(cutoff)}: raise trading.warmup_bars")
    # A live feed knows no bar after the warm-up yet: the session trades from the next one to close.
    first_traded = calendar[last_warm + 1] if last_warm + 1 < len(calendar) else _utc(cutoff)
    train_end = calendar[max(last_warm - TRAIN_HORIZON, 0)]

    def in_time(row: Any) -> bool:
        return row.data_end is not None and _utc(row.data_end) <= train_end

    if params.get("model_id"):
        try:
            row = get_run(ctx.store, params["model_id"])
        except ModelNotFound as exc:
            raise ValueError(str(exc)) from exc
        if not in_time(row):
            raise ValueError(f"model {row.id} was trained on data up to {_day(row.data_end)}, which overlaps the session's traded bars "
                             f"(from {_day(first_traded)}, after an embargo of {TRAIN_HORIZON} bars): "
                             "pin a model trained before that, or leave model_id empty to train one")
        return params
    usable = [r for r in list_runs(ctx.store, limit=200, kind="ensemble") if in_time(r)]
    if usable:
        params["model_id"] = usable[0].id
        return params
    bars = {s: f.loc[:train_end] for s, f in frames.items()}  # nothing the session will trade on
    enough = {s: b for s, b in bars.items() if len(b) >= MIN_TRAIN_BARS}
    if not enough:
        raise ValueError(f"no symbol has {MIN_TRAIN_BARS} bars before the session's first traded bar ({_day(first_traded)}): "
                         "raise trading.warmup_bars or train a model on earlier data")
    # Permutation importance on a smaller sample (300 rows, one shuffle): at the default 1,000 x 3 it was ~40 % of the
    # session's first tick, and trading does not read it; the Models page still shows it (with its sample size).
    report = train(list(enough), horizon=TRAIN_HORIZON, embargo=TRAIN_HORIZON, preset="tiny", bars=enough, importance_rows=300,
                   importance_repeats=1, ctx=ctx)
    params["model_id"] = report["model_id"]
    return params


def pin_for_backtest(name: str, params: dict[str, Any], frames: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    """Fix the ensemble's model for a backtest of ``frames`` by :func:`pin_params`'s rule.

    The backtest trades from the first bar of ``frames``; the bars before it (a bundled
    symbol's earlier history) are its warm-up. A model is usable only if its training data
    ends an embargo of ``TRAIN_HORIZON`` bars before that; otherwise one is trained on those
    earlier bars, or the run is refused with the dates when there are too few of them.
    """
    if name != "ensemble":
        return dict(params)
    from core.services.data import load_bars

    first = min(_utc(f.index[0]) for f in frames.values())
    full: dict[str, Any] = {}
    for symbol, frame in frames.items():
        try:
            history = load_bars(symbol, ctx=ctx)
            earlier = history.loc[history.index < first]
        except (ValueError, KeyError, OSError):  # a user's file: no history before it
            earlier = frame.iloc[:0]
        full[symbol] = pd.concat([earlier, frame]) if len(earlier) else frame
    before = [f.index[f.index < first][-1] for f in full.values() if (f.index < first).any()]
    if not before:
        raise ValueError(f"the backtest starts at its data's first bar ({_day(first)}), so no model can have been trained before it: "
                         "start the backtest later (--start) or pin a model_id trained on data that ends before it")
    return pin_params(name, params, full, max(before), ctx)

