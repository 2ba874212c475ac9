"""The facade used by pages, jobs, notebooks and the CLI.

Each area lives in its own module; this package re-exports the public calls so
callers write ``from core import services; services.load_bars("AAPL")``.
"""

from core.services.backtest import backtest, list_strategies, parse_size
from core.services.context import Context, get_context, set_context
from core.services.data import bars_to_records, list_series, list_symbols, load_bars
from core.services.execution import PaperSession, list_orders, order_events, order_manager, paper_broker, paper_session

__all__ = [
    "Context",
    "PaperSession",
    "backtest",
    "bars_to_records",
    "get_context",
    "list_orders",
    "list_series",
    "list_strategies",
    "list_symbols",
    "load_bars",
    "order_events",
    "order_manager",
    "paper_broker",
    "paper_session",
    "parse_size",
    "set_context",
]
