"""Signal processor: turn model outputs into sized trade intents."""

from core.signals.processor import ProcessResult, Rejection, SignalConfig, SignalProcessor, TradeIntent

__all__ = ["ProcessResult", "Rejection", "SignalConfig", "SignalProcessor", "TradeIntent"]
