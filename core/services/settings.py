"""Settings services: the effective risk limits and fill costs (config + UI overrides) and a masked config view."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from core.brokers.paper.fill_model import FillModel
from core.config import ConfigError, RiskSettings, TradingSettings, mask
from core.services.context import Context, get_context

RISK_OVERRIDES_KEY = "risk.overrides"
COSTS_OVERRIDES_KEY = "trading.costs"
COST_KEYS = ("commission", "slippage_bps", "max_volume_share")


def risk_limits(ctx: Context | None = None) -> RiskSettings:
    """Return the risk limits in force: config values overridden by what was saved from the UI."""
    ctx = ctx or get_context()
    overrides = ctx.store.get_setting(RISK_OVERRIDES_KEY, {}) or {}
    return RiskSettings.model_validate({**ctx.settings.risk.model_dump(), **overrides})


def save_risk_limits(values: dict[str, Any], actor: str = "user", ctx: Context | None = None) -> RiskSettings:
    """Validate and persist risk-limit overrides; raise :class:`ConfigError` naming the bad key."""
    ctx = ctx or get_context()
    current = risk_limits(ctx).model_dump()
    try:
        limits = RiskSettings.model_validate({**current, **values})
    except ValidationError as exc:
        lines = [f"risk.{'.'.join(str(p) for p in e['loc'])} = {e.get('input')!r}: {e['msg']}" for e in exc.errors()
                 if e["type"] != "extra_forbidden"] or [f"unknown risk limit(s): {', '.join(str(e['loc'][-1]) for e in exc.errors())}"]
        raise ConfigError("; ".join(lines), exc.errors()) from None
    changed = {k: v for k, v in limits.model_dump().items() if v != ctx.settings.risk.model_dump()[k]}
    ctx.store.set_setting(RISK_OVERRIDES_KEY, changed)
    ctx.store.audit("settings", "risk limits saved", {"overrides": changed}, actor=actor)
    return limits


def _validation_lines(exc: ValidationError, section: str) -> list[str]:
    return [f"{section}.{'.'.join(str(p) for p in e['loc'])} = {e.get('input')!r}: {e['msg']}" for e in exc.errors()]


def fill_defaults(ctx: Context | None = None) -> dict[str, float]:
    """Return the fill costs in force: ``trading.commission``, ``slippage_bps``, ``max_volume_share`` overridden by the Settings page.

    They are what a new paper session trades with (:func:`with_saved_costs`), the defaults of
    :func:`configured_fill_model` and of the Backtest page.
    """
    ctx = ctx or get_context()
    overrides = ctx.store.get_setting(COSTS_OVERRIDES_KEY, {}) or {}
    return {k: float(overrides.get(k, getattr(ctx.settings.trading, k))) for k in COST_KEYS}


def save_fill_costs(values: dict[str, Any], actor: str = "user", ctx: Context | None = None) -> dict[str, float]:
    """Validate and persist fill-cost overrides (the ``trading`` bounds); raise :class:`ConfigError` naming the bad key.

    A paper session keeps the costs of its start: the saved values apply from the next session on.
    """
    ctx = ctx or get_context()
    unknown = sorted(set(values) - set(COST_KEYS))
    if unknown:
        raise ConfigError(f"unknown fill cost(s): {', '.join(unknown)}; the fill model has {', '.join(COST_KEYS)}")
    merged = {**fill_defaults(ctx), **values}
    try:
        trading = TradingSettings.model_validate({**ctx.settings.trading.model_dump(), **merged})
    except ValidationError as exc:
        raise ConfigError("; ".join(_validation_lines(exc, "trading")), exc.errors()) from None
    changed = {k: getattr(trading, k) for k in COST_KEYS if getattr(trading, k) != getattr(ctx.settings.trading, k)}
    ctx.store.set_setting(COSTS_OVERRIDES_KEY, changed)
    ctx.store.audit("settings", "fill costs saved", {"overrides": changed}, actor=actor)
    return {k: float(getattr(trading, k)) for k in COST_KEYS}


def with_saved_costs(trading: TradingSettings, ctx: Context | None = None) -> TradingSettings:
    """Return ``trading`` with the fill costs saved from the Settings page (what a new paper session starts with)."""
    ctx = ctx or get_context()
    overrides = {k: v for k, v in (ctx.store.get_setting(COSTS_OVERRIDES_KEY, {}) or {}).items() if k in COST_KEYS}
    return trading.model_copy(update=overrides) if overrides else trading


def configured_fill_model(ctx: Context | None = None, *, commission: float | None = None, slippage_bps: float | None = None,
                          max_volume_share: float | None = None) -> FillModel:
    """Return the one fill model (:meth:`FillModel.from_costs`) of the costs in force; a given cost replaces its setting."""
    given = {"commission": commission, "slippage_bps": slippage_bps, "max_volume_share": max_volume_share}
    costs = {**fill_defaults(ctx), **{k: v for k, v in given.items() if v is not None}}
    return FillModel.from_costs(costs["commission"], costs["slippage_bps"], costs["max_volume_share"])


def safe_database_url(ctx: Context | None = None) -> str:
    """Return the database URL with any password hidden."""
    from core.store import safe_url

    ctx = ctx or get_context()
    return safe_url(ctx.settings.database_url)


def config_view(ctx: Context | None = None) -> dict[str, Any]:
    """Return the configuration as nested dicts with every secret masked (for display)."""
    ctx = ctx or get_context()

    def walk(model: BaseModel) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr):
                out[name] = mask(value) or "(not set)"
            elif isinstance(value, BaseModel):
                out[name] = walk(value)
            else:
                out[name] = value.value if hasattr(value, "value") else value
        return out

    return walk(ctx.settings)
