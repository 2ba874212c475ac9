"""The facade used by pages, jobs, notebooks and the CLI.

Each area lives in its own module; this package re-exports the public calls so
callers write ``from core import services; services.load_bars("AAPL")``.
"""

from core.services.context import Context, get_context, set_context
from core.services.data import bars_to_records, list_series, list_symbols, load_bars
from core.services.models import audit, list_models, load_model, model_report, predict, predict_history, regime_timeline, train

__all__ = [
    "Context",
    "audit",
    "bars_to_records",
    "get_context",
    "list_models",
    "list_series",
    "list_symbols",
    "load_bars",
    "load_model",
    "model_report",
    "predict",
    "predict_history",
    "regime_timeline",
    "set_context",
    "train",
]
