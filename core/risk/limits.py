"""Pre-trade limits: :class:`RiskEngine` approves, shrinks or vetoes every order intent.

How a quantity is decided
-------------------------
An order first *reduces* the existing position (up to ``|position|`` on the
opposite side) and may then *add* risk. A purely reducing order is always
approved: closing must stay possible under any halt, rate limit or kill switch
(this is how the kill switch flattens). For every other order each rule gives
the largest quantity it allows (never less than the reducing part); the result is
the smallest of them:

1. validity: positive finite quantity and price, positive equity;
2. rate: at most ``max_orders_per_minute`` approved orders in the last 60 s (else only the reducing part);
3. notional: ``quantity * price <= max_order_notional`` (shrink);
4. halts: kill switch, drawdown halt (``max_drawdown_pct`` below the peak, until a
   person resets it) and daily loss cap (rest of the UTC day) allow only the
   reducing part;
5. history: return history for every symbol the post-trade book would hold (VaR
   and correlation cannot be measured without it: only the reducing part passes);
6. correlation: direction-adjusted rolling correlation of the new position with
   each held one. Above ``veto_correlation`` the added risk is vetoed; above
   ``max_correlation`` the position limit is multiplied by ``correlated_size_factor``;
   and the correlated cluster's gross value stays under ``max_cluster_pct`` of equity;
7. position: ``|position value| <= max_position_pct * equity * risk_scale``;
8. gross and net exposure: ``sum |v| <= max_gross_exposure * equity``, ``|sum v| <= max_net_exposure * equity``;
9. VaR budget: portfolio 1-day 99 % parametric VaR after the trade ``<= var_budget_pct * equity``;
   with ``forecast_var`` the VaR is the next-bar forecast of :mod:`core.risk.forecast` instead.

A model-drift halt (``models.drift.block_entries``, see :mod:`core.models.drift`) refuses new
entries like the other halts while the pinned model's health alarm is on.

A limit already breached by price moves does not block orders that move that
metric towards the limit, but no order may overshoot into a new breach (e.g. flip an
oversized long into an equally oversized short); see :mod:`core.risk._bounds`.
Halts are detected on every check, so they latch as soon as a breach is seen.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from core.clock import Clock, SystemClock
from core.config import RiskSettings
from core.domain import RiskAction, RiskDecision
from core.risk._bounds import EPS, abs_linear_max, band_max
from core.risk._window import book_var_at, corr_with
from core.risk._window import norm_ppf as _norm_ppf
from core.risk._window import window_stats as _window_stats
from core.risk.state import MemoryStore, RiskState, RiskStore
from core.risk.types import MarketState, OrderIntent, PortfolioState


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Every limit the engine enforces (fractions of equity unless said otherwise)."""

    max_position_pct: float = 0.05
    max_gross_exposure: float = 1.0
    max_net_exposure: float = 1.0
    max_drawdown_pct: float = 0.12
    daily_loss_cap_pct: float = 0.03
    max_correlation: float = 0.85
    veto_correlation: float = 0.95
    correlated_size_factor: float = 0.5
    max_cluster_pct: float = 0.25
    var_budget_pct: float = 0.02
    var_level: float = 0.99
    max_order_notional: float = 100_000.0
    max_orders_per_minute: int = 30
    correlation_window: int = 60
    var_window: int = 250
    min_history: int = 20
    forecast_var: bool = False
    forecast_model: str = "garch_t"

    @classmethod
    def from_settings(cls, risk: RiskSettings, **overrides: Any) -> RiskLimits:
        """Return the limits configured in ``settings.risk`` (plus engine-only ``overrides``)."""
        shared = {k: getattr(risk, k) for k in cls.__dataclass_fields__ if k in type(risk).model_fields}
        return cls(**{**shared, **overrides})


@dataclass
class _Ctx:
    intent: OrderIntent
    portfolio: PortfolioState
    market: MarketState
    values: dict[str, float]  # post-price-update signed values of the book before the trade
    sign: int
    step: float  # value change per unit quantity (sign * price)
    close_qty: float


class RiskEngine:
    """Check order intents against :class:`RiskLimits`; persist halts; audit every decision.

    Parameters
    ----------
    limits
        The limits (see :meth:`RiskLimits.from_settings`).
    store
        Where halts, the kill switch and the audit log live: a :class:`core.store.Store`,
        or a :class:`~core.risk.state.MemoryStore` (the default) for backtests.
    clock
        The injected clock (halts by day, the orders-per-minute window).
    """

    def __init__(self, limits: RiskLimits | None = None, store: RiskStore | None = None, clock: Clock | None = None) -> None:
        self.limits = limits or RiskLimits()
        self.store = store if store is not None else MemoryStore()
        self.clock = clock or SystemClock()
        self.state = RiskState(self.store, self.clock)
        self._sent: deque = deque()
        self.forecaster = None
        if self.limits.forecast_var:
            from core.risk.forecast import VarForecaster

            self.forecaster = VarForecaster(self.limits.forecast_model, self.limits.var_level, self.limits.var_window)
        self._forecast_memo: tuple[Any, Any] = (None, None)

    # -- public ------------------------------------------------------------------------------------
    def check(self, intent: OrderIntent, portfolio: PortfolioState, market: MarketState | None = None) -> RiskDecision:
        """Return the decision on ``intent`` and write it to the audit log."""
        market = market or MarketState()
        checks: list[str] = []
        qty, reasons = self._decide(intent, portfolio, market, checks)
        if intent.lot_size > 0 and qty < intent.quantity:
            qty = math.floor(qty / intent.lot_size + EPS) * intent.lot_size
        if qty <= EPS:
            decision = RiskDecision(RiskAction.VETO, 0.0, "; ".join(reasons) or "vetoed", tuple(checks))
        elif qty < intent.quantity * (1 - 1e-12):
            decision = RiskDecision(RiskAction.SHRINK, float(qty), "; ".join(reasons), tuple(checks))
        else:
            decision = RiskDecision(RiskAction.APPROVE, float(intent.quantity), "", tuple(checks))
        if decision.allowed:
            self._sent.append(self.clock.now())
        self._audit(intent, decision)
        return decision

    def reset_halt(self, actor: str, equity: float) -> None:
        """Lift a drawdown halt (a person's decision); later drawdowns count from ``equity``."""
        self.state.reset_drawdown(actor, equity)

    # -- rules ----------------------------------------------------------------------------------------
    def _decide(self, intent: OrderIntent, pf: PortfolioState, market: MarketState, checks: list[str]) -> tuple[float, list[str]]:
        lim = self.limits
        reasons: list[str] = []
        if not (math.isfinite(intent.quantity) and intent.quantity > 0 and math.isfinite(intent.price) and intent.price > 0):
            checks.append("validity: veto")
            return 0.0, [f"invalid order: quantity {intent.quantity} and price {intent.price} must be positive numbers"]
        if not (math.isfinite(pf.equity) and pf.equity > 0):
            checks.append("validity: veto")
            return 0.0, [f"equity is {pf.equity}: no new risk without positive equity"]
        checks.append("validity: pass")
        # Halts are detected on every check, closing orders included, so a breach latches as soon as it is seen.
        halts = self._halts(pf, checks)
        pos0 = pf.quantity(intent.symbol)
        sign = intent.side.sign
        close_qty = abs(pos0) if pos0 * sign < 0 else 0.0
        if intent.quantity <= close_qty + EPS:
            checks.append("reducing: approve (closing a position is always allowed)")
            return intent.quantity, reasons
        prices = dict(market.prices)
        prices[intent.symbol] = intent.price
        ctx = _Ctx(intent, pf, market, pf.values(prices), sign, sign * intent.price, close_qty)

        q = intent.quantity

        def bind(rule: str, allowed: float, why: str) -> None:
            nonlocal q
            # The reducing part of an order is never blocked (see the module docstring).
            allowed = max(allowed, close_qty)
            if allowed < q - EPS * max(1.0, q):
                q = allowed
                checks.append(f"{rule}: limit {allowed:.6g} ({why})")
                reasons.append(why)
            else:
                checks.append(f"{rule}: pass")

        # Rate: a runaway loop must not get through by sending many small orders.
        now = self.clock.now()
        while self._sent and now - self._sent[0] >= timedelta(minutes=1):
            self._sent.popleft()
        if len(self._sent) >= lim.max_orders_per_minute:
            checks.append(f"rate: limit {close_qty:g} (only closing)")
            return close_qty, [f"{len(self._sent)} orders in the last minute reach max_orders_per_minute={lim.max_orders_per_minute}, wait a minute"]
        checks.append("rate: pass")
        bind("notional", lim.max_order_notional / intent.price, f"order notional capped at max_order_notional={lim.max_order_notional:,.0f}")
        for rule, halted, why in halts:
            if halted:
                # Every active halt is reported, even when an earlier one already cut the quantity.
                q = min(q, close_qty)
                checks.append(f"{rule}: halted, only closing allowed ({close_qty:g})")
                reasons.append(why)
        if q <= close_qty + EPS:
            return q, reasons
        self._history_rule(ctx, bind)
        if q <= close_qty + EPS:
            return q, reasons
        size_factor = self._correlation_rules(ctx, bind, q)
        if q <= close_qty + EPS:
            return q, reasons
        v0 = ctx.values.get(intent.symbol, 0.0)
        others = {s: v for s, v in ctx.values.items() if s != intent.symbol}
        cap = lim.max_position_pct * pf.equity * market.risk_scale * size_factor
        bind("position", abs_linear_max(v0, ctx.step, 0.0, cap, q), f"position capped at {cap / pf.equity:.2%} of equity")
        gross_other = sum(abs(v) for v in others.values())
        bind(
            "gross",
            abs_linear_max(v0, ctx.step, gross_other, lim.max_gross_exposure * pf.equity, q),
            f"gross exposure capped at {lim.max_gross_exposure:.0%} of equity",
        )
        net0 = sum(ctx.values.values())
        bind("net", abs_linear_max(net0, ctx.step, 0.0, lim.max_net_exposure * pf.equity, q), f"net exposure capped at {lim.max_net_exposure:.0%} of equity")
        if q > close_qty + EPS and self.forecaster is not None:
            allowed, why = self._forecast_var_max(ctx, q)
            bind("forecast_var", allowed, why)
        elif q > close_qty + EPS:
            bind("var", self._var_max(ctx, q), f"1-day {lim.var_level:.0%} VaR kept under var_budget_pct={lim.var_budget_pct:.1%} of equity")
        return q, reasons

    def _halts(self, pf: PortfolioState, checks: list[str]) -> list[tuple[str, bool, str]]:
        # Messages are formatted only for a halt that is on (they are read only then).
        lim = self.limits
        out = []
        kill = self.state.kill_switch()
        out.append(("kill_switch", bool(kill.get("engaged")), "kill switch engaged: re-arm it to trade again"))
        dd = self.state.drawdown()
        if dd.get("active"):
            out.append(("drawdown", True, f"trading halted by the {lim.max_drawdown_pct:.0%} drawdown limit: a person must reset it"))
        else:
            peak = pf.peak_equity
            if "baseline" in dd:
                # After a reset drawdowns count from the reset equity or any later high.
                peak = float(dd["baseline"])
                if pf.equity > peak:
                    self.state.raise_baseline(pf.equity)
                    peak = pf.equity
            peak = max(peak, pf.equity)
            halted = pf.equity <= peak * (1 - lim.max_drawdown_pct)
            if halted:
                self.state.halt_drawdown(pf.equity, peak, lim.max_drawdown_pct)
            why = f"equity {1 - pf.equity / peak:.2%} below peak breaches max_drawdown_pct={lim.max_drawdown_pct:.0%}: halted until reset" if halted else ""
            out.append(("drawdown", halted, why))
        drift = self.state.model_drift()
        drift_on = bool(drift.get("active"))
        out.append(("model_drift", drift_on,
                    f"model health alarm on {drift.get('model_id')}: new entries refused until a retrained model replaces it" if drift_on else ""))
        daily = self.state.daily_halted()
        if not daily and pf.day_start_equity > 0 and pf.equity <= pf.day_start_equity * (1 - lim.daily_loss_cap_pct):
            self.state.halt_daily(pf.equity, pf.day_start_equity, lim.daily_loss_cap_pct)
            daily = True
        out.append(("daily_loss", daily, f"daily loss cap {lim.daily_loss_cap_pct:.1%} hit: halted for the rest of the UTC day" if daily else ""))
        for rule, halted, _ in out:
            if not halted:
                checks.append(f"{rule}: pass")
        return out

    def _history_rule(self, ctx: _Ctx, bind: Callable[[str, float, str], None]) -> None:
        market = ctx.market
        need = [ctx.intent.symbol, *(s for s in ctx.values if s != ctx.intent.symbol)]
        window = self.limits.var_window
        have = [s for s in need if market.has_returns(s)]
        counts = np.count_nonzero(~np.isnan(market.returns_array(have, window)), axis=0) if have else np.zeros(0)
        short = [s for s in need if not market.has_returns(s)]
        short += [s for s, n in zip(have, counts, strict=True) if n < self.limits.min_history]
        if short:
            bind(
                "history",
                ctx.close_qty,
                f"no return history ({self.limits.min_history}+ rows) for {', '.join(sorted(short))}: VaR and correlation cannot be checked",
            )
        else:
            bind("history", math.inf, "")

    def _correlation_rules(self, ctx: _Ctx, bind: Callable[[str, float, str], None], q: float) -> float:
        lim = self.limits
        sym = ctx.intent.symbol
        held = [s for s, v in ctx.values.items() if s != sym]
        if not held:
            bind("correlation", math.inf, "")
            return 1.0
        market = ctx.market
        corr = (corr_with(market.returns_array([sym, *held], lim.correlation_window), lim.min_history)
                if all(market.has_returns(s) for s in (sym, *held)) else np.full(len(held), np.nan))
        # The added risk has the order's direction; a short against a correlated long is a hedge.
        adj = corr * ctx.sign * np.sign(np.fromiter((ctx.values[s] for s in held), float, len(held)))  # one pass, not a numpy call per symbol
        adjusted = {held[i]: float(adj[i]) for i in np.flatnonzero(np.isfinite(corr))}
        worst = max(adjusted.values(), default=-1.0)
        factor = 1.0
        if worst > lim.veto_correlation:
            bind("correlation", ctx.close_qty, f"{sym} is {worst:.2f} correlated with the book (veto above {lim.veto_correlation:.2f})")
            return factor
        if worst > lim.max_correlation:
            factor = lim.correlated_size_factor
            ctx_note = f"correlation: {worst:.2f} > {lim.max_correlation:.2f}, position limit x{factor:g}"
            bind(ctx_note, math.inf, "")
        else:
            bind("correlation", math.inf, "")
        cluster = [s for s, c in adjusted.items() if c > lim.max_correlation]
        gross_cluster = sum(abs(ctx.values[s]) for s in cluster)
        v0 = ctx.values.get(sym, 0.0)
        cap = lim.max_cluster_pct * ctx.portfolio.equity
        bind(
            "cluster",
            abs_linear_max(v0, ctx.step, gross_cluster, cap, q),
            f"correlated cluster {sorted([sym, *cluster])} capped at {lim.max_cluster_pct:.0%} of equity",
        )
        return factor

    def portfolio_var(self, values: dict[str, float], equity: float, returns: pd.DataFrame) -> float:
        """Return the parametric 1-day VaR of the book ``values`` (signed money per symbol) as a fraction of ``equity``."""
        cols = [s for s, v in values.items() if v != 0]
        if not cols:
            return 0.0
        w = np.array([values[s] / equity for s in cols])
        mu, cov = _window_stats(MarketState(returns).returns_array(cols, self.limits.var_window))
        z = _norm_ppf(1 - self.limits.var_level)
        return float(-(w @ mu) - z * math.sqrt(max(w @ cov @ w, 0.0)))

    def _var_max(self, ctx: _Ctx, q: float) -> float:
        lim = self.limits
        sym = ctx.intent.symbol
        equity = ctx.portfolio.equity
        cols = sorted({*ctx.values, sym})
        arr = ctx.market.returns_array(cols, lim.var_window)
        z = _norm_ppf(1 - lim.var_level)
        w0 = np.array([ctx.values.get(c, 0.0) / equity for c in cols])
        var_at = book_var_at(arr, w0, cols.index(sym), ctx.step / equity, z)

        # VaR is convex in the quantity (a norm minus a linear term).
        return band_max(var_at, lim.var_budget_pct, q)

    def book_forecast(self, market: MarketState) -> Any:
        """Return the forecaster's book forecast for ``market`` (computed once per market snapshot)."""
        memo_market, memo = self._forecast_memo
        if memo_market is not market:
            memo = self.forecaster.forecast(market.returns) if market.returns is not None else None
            self._forecast_memo = (market, memo)
        return memo

    def _forecast_var_max(self, ctx: _Ctx, q: float) -> tuple[float, str]:
        lim = self.limits
        fc = self.book_forecast(ctx.market)
        equity = ctx.portfolio.equity
        if fc is None or ctx.intent.symbol not in fc.symbols or any(s not in fc.symbols for s in ctx.values):
            return ctx.close_qty, "no next-bar VaR forecast for the book (each symbol needs 100+ returns)"
        w0 = fc.weights(ctx.values, equity)
        d = np.zeros(len(fc.symbols))
        d[fc.symbols.index(ctx.intent.symbol)] = ctx.step / equity
        now = fc.var(w0)
        allowed = band_max(lambda x: fc.var(w0 + x * d), lim.var_budget_pct, q)
        why = (f"next-bar {lim.var_level:.0%} VaR forecast ({fc.model}) kept under var_budget_pct={lim.var_budget_pct:.1%} of equity "
               f"(book now {now:.2%})")
        return allowed, why

    # -- audit ----------------------------------------------------------------------------------------------
    def _audit(self, intent: OrderIntent, decision: RiskDecision) -> None:
        msg = f"{decision.action} {intent.side} {decision.quantity:g}/{intent.quantity:g} {intent.symbol}"
        if decision.reason:
            msg += f": {decision.reason}"
        data = {
            "intent": intent.to_dict(),
            "action": str(decision.action),
            "quantity": decision.quantity,
            "reason": decision.reason,
            "checks": list(decision.checks),
        }
        self.store.audit("risk", msg, data, ts=self.clock.now())

    def limits_dict(self) -> dict[str, Any]:
        """Return the limits as a plain dict (UI)."""
        return asdict(self.limits)

    def with_limits(self, **changes: Any) -> RiskEngine:
        """Return an engine on the same store and clock with some limits changed."""
        return RiskEngine(replace(self.limits, **changes), self.store, self.clock)
