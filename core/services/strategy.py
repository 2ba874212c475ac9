"""Strategies with what they need from the application: models, limits, regime models.

Strategies (``core.strategies``) never import the services; a strategy that needs a
trained model (``ensemble``) gets it here, through its constructor.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from core.engine import Strategy
from core.services.context import Context, get_context
from core.strategies import make_strategy


def build_strategy(name: str, params: dict[str, Any] | None = None, ctx: Context | None = None) -> Strategy:
    """Return strategy ``name`` with ``params``, given its model artifact and the limits in force when it trades a model."""
    params = dict(params or {})
    if name != "ensemble":
        return make_strategy(name, **params)
    from core.services.models import _regime_for, load_model
    from core.services.settings import risk_limits

    ctx = ctx or get_context()
    artifact = load_model(params.get("model_id") or None, ctx)
    return make_strategy(name, artifact=artifact, limits=risk_limits(ctx), regime_for=partial(_regime_for, ctx=ctx), **params)


def pin_params(name: str, params: dict[str, Any], frames: dict[str, Any], cutoff: Any, ctx: Context | None = None) -> dict[str, Any]:
    """Fix what a paper session trades at its start (the ensemble's model version).

    With no trained model yet, one is trained on the bars up to ``cutoff`` (the end of
    the warm-up: nothing the session will trade on).
    """
    if name != "ensemble":
        return dict(params)
    params = make_strategy(name, **params).get_params()
    if params.get("model_id"):
        return params
    from core.models.registry import ModelNotFound
    from core.services.models import load_model, train

    ctx = ctx or get_context()
    try:
        params["model_id"] = load_model(None, ctx).model_id
    except ModelNotFound:
        bars = {s: f.loc[:cutoff] for s, f in frames.items()}
        report = train(list(bars), horizon=5, preset="tiny", bars=bars, ctx=ctx)
        params["model_id"] = report["model_id"]
    return params
