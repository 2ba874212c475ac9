"""The facade used by pages, jobs, notebooks and the CLI.

Each area lives in its own module; this package re-exports the public calls so
callers write ``from core import services; services.load_bars("AAPL")``.
"""

from core.services.context import Context, get_context, set_context
from core.services.data import bars_to_records, list_series, list_symbols, load_bars
from core.services.settings import config_view, risk_limits, safe_database_url, save_risk_limits
from core.services.trading import paper_start, paper_status, paper_stop

__all__ = [
    "Context",
    "bars_to_records",
    "config_view",
    "get_context",
    "list_series",
    "list_symbols",
    "load_bars",
    "paper_start",
    "paper_status",
    "paper_stop",
    "risk_limits",
    "safe_database_url",
    "save_risk_limits",
    "set_context",
]
