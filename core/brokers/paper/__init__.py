"""The paper broker: a simulated venue matching resting orders against bars, with its matching rules and fill model."""

from core.brokers.paper.broker import PAPER_CAPABILITIES, UNSIZED, PaperBroker
from core.brokers.paper.fill_model import FillModel

__all__ = ["PAPER_CAPABILITIES", "UNSIZED", "FillModel", "PaperBroker"]
