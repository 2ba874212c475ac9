"""Alerts for the banner on every page: halts, the kill switch, positions above their limit, stale data, loop errors."""

from __future__ import annotations

from dataclasses import dataclass

from core.services.context import Context, get_context
from core.services.status import LoopState, loop_state


@dataclass(frozen=True)
class Alert:
    """One condition the trader must see; ``key`` is stable while the condition lasts (toasts fire once per key)."""

    key: str
    level: str  # "error" or "warning"
    message: str


def position_breaches(ctx: Context | None = None) -> list[tuple[str, float, float]]:
    """Return ``(symbol, share of equity, limit)`` for every paper position larger than the position limit."""
    from core.portfolio import repo as portfolio_repo
    from core.services.settings import risk_limits

    ctx = ctx or get_context()
    pf = portfolio_repo.load_state(ctx.store, ctx.settings.trading.account)
    if pf is None:
        return []
    equity = pf.equity()
    if equity <= 0:
        return []
    limit = risk_limits(ctx).max_position_pct
    out = []
    for p in sorted(pf.positions.values(), key=lambda p: p.symbol):
        mark = p.last_price if p.last_price is not None else p.avg_price
        share = abs(p.quantity * mark) / equity
        if p.quantity and share > limit * (1 + 1e-9):
            out.append((p.symbol, share, limit))
    return out


def alerts(ctx: Context | None = None, state: LoopState | None = None) -> list[Alert]:
    """Return the alerts in force now, most severe first (empty when all is well)."""
    ctx = ctx or get_context()
    state = state or loop_state(ctx)
    out: list[Alert] = []
    for halt in state.halts:
        out.append(Alert(f"halt:{halt.split(' (')[0]}", "error", f"Trading halted: {halt}."))
    if state.state == "error":
        out.append(Alert("loop_error", "error", f"The trading loop failed: {state.reason}"))
    if state.state == "not_ticking":
        out.append(Alert("not_ticking", "warning", f"Paper trading is on but the loop is not ticking ({state.reason})."))
    for symbol, share, limit in position_breaches(ctx):
        out.append(Alert(f"position:{symbol}", "warning",
                         f"{symbol} position is {share:.2%} of equity, above its {limit:.2%} limit ({share / limit:.0%} of the limit)."))
    if state.state == "exhausted":
        out.append(Alert("exhausted", "warning",
                         "The replay has run out of bars: nothing more will trade, and tickets still queued are cancelled with that reason."))
    return out
