"""Order execution: the order manager (required risk check, idempotency, emulation, reconcile) and manual tickets."""

from core.execution.manager import OrderManager

__all__ = ["OrderManager"]
