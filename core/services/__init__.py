"""The facade used by pages, jobs, notebooks and the CLI.

Each area lives in its own module; this package re-exports the public calls so
callers write ``from core import services; services.load_bars("AAPL")``.
"""

from core.services.backtest import backtest, list_strategies, parse_size
from core.services.context import Context, get_context, set_context
from core.services.dashboard import dashboard, equity_frame, latest_signals
from core.services.data import bars_to_records, list_series, list_symbols, load_bars
from core.services.execution import PaperSession, list_orders, order_events, order_manager, paper_broker, paper_session
from core.services.models import audit, list_models, load_model, model_report, predict, predict_history, regime_timeline, train
from core.services.news import ensure_news, fetch_news, list_news, news_features, news_to_records, score_headline
from core.services.notifications import get_notifier, notify, send_test_notification
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
from core.services.settings import config_view, risk_limits, safe_database_url, save_risk_limits
from core.services.trading import paper_start, paper_status, paper_stop

__all__ = [
    "Context",
    "PaperSession",
    "audit",
    "backtest",
    "bars_to_records",
    "config_view",
    "dashboard",
    "engage_kill_switch",
    "ensure_news",
    "equity_frame",
    "fetch_news",
    "get_context",
    "get_notifier",
    "kelly_sizer",
    "latest_signals",
    "list_models",
    "list_news",
    "list_orders",
    "list_series",
    "list_strategies",
    "list_symbols",
    "load_bars",
    "load_model",
    "model_report",
    "news_features",
    "news_to_records",
    "notify",
    "order_events",
    "order_manager",
    "paper_broker",
    "paper_session",
    "paper_start",
    "paper_status",
    "paper_stop",
    "parse_size",
    "portfolio_risk",
    "predict",
    "predict_history",
    "rearm_kill_switch",
    "regime_timeline",
    "reset_drawdown_halt",
    "risk_engine",
    "risk_limits",
    "risk_report",
    "risk_status",
    "safe_database_url",
    "save_risk_limits",
    "score_headline",
    "send_test_notification",
    "set_context",
    "train",
]
