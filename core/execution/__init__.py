"""Order execution: the order manager (risk hook, idempotency, emulation, reconcile) and the paper fill model."""

from core.execution.events import OrderEvent
from core.execution.fill_model import FillModel

__all__ = ["FillModel", "OrderEvent"]
