"""The facade used by pages, jobs, notebooks and the CLI.

Each area lives in its own module; this package re-exports the public calls so
callers write ``from core import services; services.load_bars("AAPL")``.
"""

from core.models.registry import ModelNotFound
from core.services.backtest import backtest, list_strategies, parse_size
from core.services.book import bundled_returns, market_state, paper_asof, paper_book, paper_state
from core.services.context import Context, get_context, set_context
from core.services.dashboard import dashboard, equity_frame, latest_signals
from core.services.data import bars_to_records, list_series, list_symbols, load_bars
from core.services.execution import PaperSession, list_fills, list_orders, order_events, order_manager, paper_broker, paper_session
from core.services.feeds import check_feed, feed_status
from core.services.lab import bars_from_csv, buy_and_hold_curve, lab_backtest, lab_frames, parameter_sweep
from core.services.manual import pending_cancels, pending_manual_orders, preview_order, queue_manual_order, request_cancel, ticket_orders
from core.services.models import audit, list_models, load_model, model_report, predict, predict_history, regime_timeline, train
from core.services.news import ensure_news, fetch_news, list_news, news_features, news_to_records, score_headline
from core.services.notifications import get_notifier, notify, send_test_notification
from core.services.performance import equity_returns, monthly_returns, performance_summary, rolling_sharpe
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
from core.services.risk_views import correlation_matrix, limit_utilisation, rolling_var
from core.services.settings import config_view, risk_limits, safe_database_url, save_risk_limits
from core.services.strategy import build_strategy, pin_params
from core.services.trading import (
    get_loop,
    paper_start,
    paper_status,
    paper_stop,
    report_job_error,
    retrain_for_loop,
    retrain_models,
    run_tick,
    snapshot_equity,
    trading_loop,
)

__all__ = [
    "Context",
    "ModelNotFound",
    "PaperSession",
    "audit",
    "backtest",
    "bars_from_csv",
    "bars_to_records",
    "build_strategy",
    "bundled_returns",
    "buy_and_hold_curve",
    "check_feed",
    "config_view",
    "correlation_matrix",
    "dashboard",
    "engage_kill_switch",
    "ensure_news",
    "equity_frame",
    "equity_returns",
    "feed_status",
    "fetch_news",
    "get_context",
    "get_loop",
    "get_notifier",
    "kelly_sizer",
    "lab_backtest",
    "lab_frames",
    "latest_signals",
    "limit_utilisation",
    "list_fills",
    "list_models",
    "list_news",
    "list_orders",
    "list_series",
    "list_strategies",
    "list_symbols",
    "load_bars",
    "load_model",
    "market_state",
    "model_report",
    "monthly_returns",
    "news_features",
    "news_to_records",
    "notify",
    "order_events",
    "order_manager",
    "paper_asof",
    "paper_book",
    "paper_broker",
    "paper_session",
    "paper_start",
    "paper_state",
    "paper_status",
    "paper_stop",
    "parameter_sweep",
    "parse_size",
    "pending_cancels",
    "pending_manual_orders",
    "performance_summary",
    "pin_params",
    "portfolio_risk",
    "predict",
    "predict_history",
    "preview_order",
    "queue_manual_order",
    "rearm_kill_switch",
    "regime_timeline",
    "report_job_error",
    "request_cancel",
    "reset_drawdown_halt",
    "retrain_for_loop",
    "retrain_models",
    "risk_engine",
    "risk_limits",
    "risk_report",
    "risk_status",
    "rolling_sharpe",
    "rolling_var",
    "run_tick",
    "safe_database_url",
    "save_risk_limits",
    "score_headline",
    "send_test_notification",
    "set_context",
    "snapshot_equity",
    "ticket_orders",
    "trading_loop",
    "train",
]
