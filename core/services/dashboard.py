"""Dashboard data: equity and drawdown, today's P&L, positions, orders, regimes, signals, risk gauges.

Everything is read from the store (what the loop wrote), so the dashboard shows the
same numbers whichever process trades. Risk figures use returns up to the loop's last
processed bar only.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlmodel import select

from core.execution import repo as order_repo
from core.portfolio import repo as portfolio_repo
from core.portfolio.portfolio import Portfolio
from core.risk import var as var_mod
from core.services.context import Context, get_context
from core.services.risk import risk_status
from core.services.settings import risk_limits
from core.store.tables import SignalRow
from core.trading import toggle


def equity_frame(account: str = "paper", ctx: Context | None = None) -> pd.DataFrame:
    """Return the stored equity curve with its drawdown (``equity, cash, gross, net, drawdown``)."""
    ctx = ctx or get_context()
    points = portfolio_repo.load_equity(ctx.store, account)
    frame = pd.DataFrame(
        [(p.ts, p.equity, p.cash, p.gross_exposure, p.net_exposure) for p in points], columns=["ts", "equity", "cash", "gross", "net"]
    ).set_index("ts")
    frame["drawdown"] = frame["equity"] / frame["equity"].cummax() - 1 if len(frame) else pd.Series(dtype=float)
    return frame


def latest_signals(limit: int = 50, ctx: Context | None = None) -> pd.DataFrame:
    """Return the newest stored signals (with confidence and regime), newest first."""
    ctx = ctx or get_context()
    with ctx.store.session() as s:
        rows = list(s.exec(select(SignalRow).order_by(SignalRow.ts.desc(), SignalRow.id.desc()).limit(limit)))
    return pd.DataFrame(
        [{"ts": r.ts, "symbol": r.symbol, "p_up": r.p_up, "regime": r.regime, "direction": r.direction, "confidence": r.confidence,
          "model": r.model_id, "status": signal_status(r.reason), "note": r.reason} for r in rows],
        columns=["ts", "symbol", "p_up", "regime", "direction", "confidence", "model", "status", "note"],
    )  # fmt: skip


def signal_status(note: str) -> str:
    """Return ``passed`` or ``suppressed (<kind>)`` for a stored signal's note (the ensemble writes ``suppressed · <kind>: <why>``)."""
    if note.startswith("suppressed · "):
        return f"suppressed ({note[len('suppressed · '):].split(':', 1)[0]})"
    return "passed"


def signal_rules(ctx: Context | None = None) -> dict[str, Any]:
    """Return the signal processor's rules a new session pins (``signals.*``), for the Dashboard's signals panel."""
    cfg = (ctx or get_context()).settings.signals
    return {"cooldown_bars": cfg.cooldown_bars, "conflict_margin": cfg.conflict_margin}


def dashboard(account: str = "paper", ctx: Context | None = None) -> dict[str, Any]:
    """Return everything the dashboard shows, as plain data."""
    ctx = ctx or get_context()
    eq = equity_frame(account, ctx)
    state = portfolio_repo.load_state(ctx.store, account)
    positions = []
    if state is not None:
        for p in state.positions.values():
            if abs(p.quantity) > 1e-12:
                price = p.last_price if p.last_price is not None else p.avg_price
                positions.append({"symbol": p.symbol, "quantity": p.quantity, "avg_price": p.avg_price, "last": price,
                                  "value": p.quantity * price, "unrealized": (price - p.avg_price) * p.quantity, "realized": p.realized_pnl})
    opened = [{"id": o.client_order_id, "symbol": o.symbol, "side": o.side.value, "type": o.order_type.value, "qty": o.quantity,
               "limit": o.limit_price, "stop": o.stop_price, "status": o.status.value} for o in order_repo.load_orders(ctx.store, account, open_only=True)]
    today_pnl = None
    if len(eq) >= 2:
        ledger = Portfolio(cash=0.0, account=account)  # only its curve: the one definition of "day start"
        ledger.equity_curve = portfolio_repo.load_equity(ctx.store, account)
        today_pnl = float(eq["equity"].iloc[-1] - ledger.day_start_equity())
    limits = risk_limits(ctx)
    status = risk_status(ctx)
    equity = float(eq["equity"].iloc[-1]) if len(eq) else None
    gauges = {
        "drawdown": float(-eq["drawdown"].iloc[-1]) if len(eq) else 0.0, "drawdown_halt": limits.max_drawdown_pct,
        "daily_loss": max(0.0, -(today_pnl or 0.0) / equity) if equity else 0.0, "daily_cap": limits.daily_loss_cap_pct,
        "var_99": _book_var(positions, equity, eq.index[-1] if len(eq) else None, ctx), "var_budget": limits.var_budget_pct,
    }  # fmt: skip
    return {
        "loop": toggle.loop_status(ctx.store) | {"enabled": toggle.is_enabled(ctx.store)},
        "equity": eq, "today_pnl": today_pnl, "positions": positions, "open_orders": opened,
        "signals": latest_signals(ctx=ctx), "signal_rules": signal_rules(ctx), "risk": status, "gauges": gauges, "models": _model_windows(ctx),
    }  # fmt: skip


def _book_var(positions: list[dict], equity: float | None, upto: pd.Timestamp | None, ctx: Context) -> float:
    """Historical 1-day 99% VaR of the current book as a fraction of equity (returns up to ``upto`` only)."""
    if not positions or not equity or upto is None:
        return 0.0
    from core.services.data import load_bars

    weights = {p["symbol"]: p["value"] / equity for p in positions}
    try:
        closes = {s: load_bars(s, ctx=ctx)["close"].loc[:upto] for s in weights}
    except (ValueError, KeyError):
        return 0.0
    returns = pd.DataFrame(closes).pct_change().dropna().tail(500)
    if len(returns) < 50:
        return 0.0
    book = var_mod.portfolio_returns(returns, weights)
    return float(var_mod.historical(book, 0.99).var)


def _model_windows(ctx: Context) -> list[dict]:
    from core.services.windows import model_windows

    try:
        return model_windows(ctx)
    except (ValueError, KeyError, OSError):  # a session on data that is gone: the rest of the dashboard still shows
        return []
