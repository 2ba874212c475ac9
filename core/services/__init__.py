"""The facade used by pages, jobs, notebooks and the CLI.

Each area lives in its own module; this package re-exports the public calls so
callers write ``from core import services; services.load_bars("AAPL")``.
"""

from core.services.context import Context, get_context, set_context
from core.services.data import bars_to_records, list_series, list_symbols, load_bars
from core.services.risk import (
    engage_kill_switch,
    kelly_sizer,
    portfolio_risk,
    rearm_kill_switch,
    reset_drawdown_halt,
    risk_engine,
    risk_report,
    risk_status,
)

__all__ = [
    "Context",
    "bars_to_records",
    "engage_kill_switch",
    "get_context",
    "kelly_sizer",
    "list_series",
    "list_symbols",
    "load_bars",
    "portfolio_risk",
    "rearm_kill_switch",
    "reset_drawdown_halt",
    "risk_engine",
    "risk_report",
    "risk_status",
    "set_context",
]
