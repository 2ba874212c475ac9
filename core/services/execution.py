"""Execution services: build the paper broker and order manager, read orders and their events."""

from __future__ import annotations

from core.brokers.paper import PaperBroker
from core.execution import repo
from core.execution.events import OrderEvent
from core.execution.fill_model import FillModel
from core.execution.manager import OrderManager, RiskCheck
from core.services.context import Context, get_context


def paper_broker(cash: float = 100_000.0, fill_model: FillModel | None = None, ctx: Context | None = None) -> PaperBroker:
    """Return a paper broker on the context's clock."""
    ctx = ctx or get_context()
    return PaperBroker(ctx.clock, cash=cash, fill_model=fill_model)


def order_manager(broker: PaperBroker, account: str = "paper", risk_check: RiskCheck | None = None, ctx: Context | None = None) -> OrderManager:
    """Return an order manager persisting to the context's store (reconciled with ``broker`` on start)."""
    ctx = ctx or get_context()
    return OrderManager(broker, ctx.clock, store=ctx.store, account=account, risk_check=risk_check)


def list_orders(account: str = "paper", open_only: bool = False, ctx: Context | None = None) -> list:
    """Return the stored orders of ``account``, oldest first."""
    ctx = ctx or get_context()
    return repo.load_orders(ctx.store, account, open_only=open_only)


def order_events(client_order_id: str | None = None, ctx: Context | None = None) -> list[OrderEvent]:
    """Return the stored lifecycle events (of one order, or all)."""
    ctx = ctx or get_context()
    return repo.load_events(ctx.store, client_order_id)
