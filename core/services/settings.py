"""Settings services: the effective risk limits (config + UI overrides) and a masked config view."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from core.config import ConfigError, RiskSettings, mask
from core.services.context import Context, get_context

RISK_OVERRIDES_KEY = "risk.overrides"


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
        raise ConfigError("; ".join(lines)) from None
    changed = {k: v for k, v in limits.model_dump().items() if v != ctx.settings.risk.model_dump()[k]}
    ctx.store.set_setting(RISK_OVERRIDES_KEY, changed)
    ctx.store.audit("settings", "risk limits saved", {"overrides": changed}, actor=actor)
    return limits


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
