"""Execution services: the paper broker, the order manager, a persisted paper-trading session, stored orders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.brokers.events import OrderEvent
from core.brokers.paper import PaperBroker
from core.brokers.paper.fill_model import FillModel
from core.domain import Bar, Order
from core.engine import Engine, Strategy, build_engine
from core.engine.build import RiskArg
from core.execution import repo
from core.execution.manager import OrderManager
from core.portfolio import repo as portfolio_repo
from core.risk.hook import RiskCheck
from core.services.context import Context, get_context
from core.services.settings import configured_fill_model
from core.strategies import make_strategy


def paper_broker(cash: float = 100_000.0, fill_model: FillModel | None = None, ctx: Context | None = None) -> PaperBroker:
    """Return a paper broker on the context's clock, filling with ``fill_model`` (default: the configured costs, as the paper loop)."""
    ctx = ctx or get_context()
    return PaperBroker(ctx.clock, cash=cash, fill_model=fill_model or configured_fill_model(ctx))


def order_manager(broker: PaperBroker, *, risk_check: RiskCheck, account: str = "paper", ctx: Context | None = None) -> OrderManager:
    """Return an order manager persisting to the context's store (reconciled with ``broker`` on start).

    ``risk_check`` is required (``core.risk.hook.UNLIMITED`` runs without limits, explicitly).
    """
    ctx = ctx or get_context()
    return OrderManager(broker, ctx.clock, risk_check, store=ctx.store, account=account)


@dataclass
class PaperSession:
    """A strategy trading the paper broker bar by bar, with every order, fill, trade and equity point stored."""

    engine: Engine
    broker: PaperBroker
    manager: OrderManager
    recorder: portfolio_repo.PortfolioRecorder

    def step(self, bars: Sequence[Bar]) -> None:
        """Process the bars of one timestamp (the trading job calls this for each new bar)."""
        self.engine.step(bars)
        self.recorder.flush(self.broker.fills(), bars[0].ts)


def paper_session(strategy: Strategy | str, symbols: Sequence[str], *, params: dict | None = None, cash: float = 100_000.0,
                  commission: float | None = None, slippage_bps: float | None = None, max_volume_share: float | None = None, size: float = 1.0,
                  account: str = "paper", risk: RiskArg | str = "configured", ctx: Context | None = None) -> PaperSession:
    """Start (or resume) paper trading ``strategy`` on ``symbols``.

    A stored account resumes with its cash and positions; orders that were open
    at the paper venue before a restart are gone and are marked so by the
    reconciliation on start (the venue is the source of truth). Every order passes
    ``risk``: ``"configured"`` (the limits in force, default, with the ``risk.stop``
    protective stop as in the paper loop), a RiskEngine, a risk-check callable, or
    ``core.risk.hook.UNLIMITED`` (explicit, logged; no protective stop). Fills follow the
    paper loop's fill model (:func:`core.services.settings.configured_fill_model`); a given
    ``commission``, ``slippage_bps`` or ``max_volume_share`` replaces its setting.
    """
    ctx = ctx or get_context()
    if isinstance(strategy, str):
        strategy = make_strategy(strategy, **(params or {}))
    fill_model = configured_fill_model(ctx, commission=commission, slippage_bps=slippage_bps, max_volume_share=max_volume_share)
    broker = PaperBroker(ctx.clock, cash=cash, fill_model=fill_model, account=account)
    stored = portfolio_repo.load_state(ctx.store, account)
    if stored is not None:
        broker.portfolio = stored
    stop = None
    if isinstance(risk, str):
        if risk != "configured":
            raise ValueError(f"unknown risk mode '{risk}': use 'configured', a RiskEngine, or core.risk.hook.UNLIMITED")
        from core.services.backtest import backtest_stop
        from core.services.risk import risk_engine

        risk, stop = risk_engine(ctx), backtest_stop("configured", ctx)
    engine = build_engine(strategy, list(symbols), broker, risk=risk, clock=ctx.clock, store=ctx.store, account=account, size=size,
                          reconcile_on_start=True, stop=stop)
    manager = engine.manager
    return PaperSession(engine, broker, manager, portfolio_repo.PortfolioRecorder(ctx.store, broker.portfolio))


def list_orders(account: str = "paper", open_only: bool = False, ctx: Context | None = None) -> list[Order]:
    """Return the stored orders of ``account``, oldest first."""
    ctx = ctx or get_context()
    return repo.load_orders(ctx.store, account, open_only=open_only)


def order_events(client_order_id: str | None = None, ctx: Context | None = None) -> list[OrderEvent]:
    """Return the stored lifecycle events (of one order, or all)."""
    ctx = ctx or get_context()
    return repo.load_events(ctx.store, client_order_id)


def list_fills(account: str = "paper", ctx: Context | None = None) -> list:
    """Return the stored fills of ``account``, oldest first."""
    ctx = ctx or get_context()
    return portfolio_repo.load_fills(ctx.store, account)
