"""The facade used by pages, jobs, notebooks and the CLI.

Each area lives in its own module; this package re-exports the public calls so
callers write ``from core import services; services.load_bars("AAPL")``.

The re-exports are lazy (PEP 562): a name's module is imported on first use, so a page
that needs the loop status does not pay for scikit-learn, arch or the model registry
(importing every area eagerly took 3-10 s of every cold page load).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and editors; at run time the names resolve through __getattr__
    from core.models.registry import ModelNotFound
    from core.services.ablation import sentiment_ablation
    from core.services.alerts import Alert, alerts, position_breaches
    from core.services.auth import (
        LoginResult,
        auth_session_expired,
        auth_status,
        identity_too_old,
        login,
        login_wait,
        password_version,
        record_sign_in,
        record_sign_out,
        remove_password,
        reset_login_attempts,
        set_password,
        sign_in_required,
    )
    from core.services.background import Task, forget_task, start_task, task
    from core.services.backtest import backtest, list_strategies, parse_size
    from core.services.book import bundled_returns, market_state, paper_asof, paper_book, paper_state
    from core.services.context import Context, get_context, set_context
    from core.services.dashboard import dashboard, equity_frame, latest_signals
    from core.services.data import bars_to_records, list_series, list_symbols, load_bars
    from core.services.diff import NoSession, diff_days, diff_status, run_diff_job, session_diff
    from core.services.execution import PaperSession, list_fills, list_orders, order_events, order_manager, paper_broker, paper_session
    from core.services.exposure import forecast_exposure
    from core.services.feeds import check_feed, close_feeds
    from core.services.forecast_session import session_forecast_summary, session_forecasts
    from core.services.headlines import news_frame
    from core.services.health import check_model_health, health_status, model_health, pinned_model, retrain_status
    from core.services.lab import (
        bars_from_csv,
        bars_from_upload,
        buy_and_hold_curve,
        compare_strategies,
        lab_backtest,
        lab_frames,
        parameter_sweep,
    )
    from core.services.manual import (
        cancelled_manual_orders,
        pending_cancels,
        pending_manual_orders,
        preview_order,
        queue_manual_order,
        request_cancel,
        ticket_orders,
    )
    from core.services.models import audit, list_models, load_model, model_report, predict, predict_history, regime_timeline
    from core.services.news import ensure_news, fetch_news, headline_scorer, list_news, news_features, news_to_records, score_headline
    from core.services.notifications import get_notifier, notify, notify_error, notify_event, send_test_notification
    from core.services.orders_view import fill_rows, open_order_rows, ticket_prices, trade_rows
    from core.services.performance import equity_returns, monthly_returns, performance_summary, rolling_sharpe
    from core.services.research import list_sweeps, parse_grid, research_executor, shared_research_executor, sweep, sweep_result, var_backtests, walk_forward
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
    from core.services.risk_views import book_exposure, book_risk, correlation_matrix, limit_utilisation, rolling_var
    from core.services.settings import (
        config_view,
        configured_fill_model,
        fill_defaults,
        risk_limits,
        safe_database_url,
        save_fill_costs,
        save_risk_limits,
    )
    from core.services.status import STATE_LABELS, LoopState, format_pct, format_ts, loop_state
    from core.services.strategies import check_strategy, new_strategy, require_checked, strategy_catalog
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
        use_model_for_paper,
    )
    from core.services.training import start_training, train
    from core.services.venues import check_venue, venue_broker
    from core.services.verdicts import edge_verdict
    from core.services.windows import model_windows

__all__ = [
    "STATE_LABELS",
    "Alert",
    "Context",
    "LoginResult",
    "LoopState",
    "ModelNotFound",
    "NoSession",
    "PaperSession",
    "Task",
    "alerts",
    "audit",
    "auth_session_expired",
    "auth_status",
    "backtest",
    "bars_from_csv",
    "bars_from_upload",
    "bars_to_records",
    "book_exposure",
    "book_risk",
    "build_strategy",
    "bundled_returns",
    "buy_and_hold_curve",
    "cancelled_manual_orders",
    "check_feed",
    "check_model_health",
    "check_strategy",
    "check_venue",
    "close_feeds",
    "compare_strategies",
    "config_view",
    "configured_fill_model",
    "correlation_matrix",
    "dashboard",
    "diff_days",
    "diff_status",
    "edge_verdict",
    "engage_kill_switch",
    "ensure_news",
    "equity_frame",
    "equity_returns",
    "fetch_news",
    "fill_defaults",
    "fill_rows",
    "forecast_exposure",
    "forget_task",
    "format_pct",
    "format_ts",
    "get_context",
    "get_loop",
    "get_notifier",
    "headline_scorer",
    "health_status",
    "identity_too_old",
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
    "list_sweeps",
    "list_symbols",
    "load_bars",
    "load_model",
    "login",
    "login_wait",
    "loop_state",
    "market_state",
    "model_health",
    "model_report",
    "model_windows",
    "monthly_returns",
    "new_strategy",
    "news_features",
    "news_frame",
    "news_to_records",
    "notify",
    "notify_error",
    "notify_event",
    "open_order_rows",
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
    "parse_grid",
    "parse_size",
    "password_version",
    "pending_cancels",
    "pending_manual_orders",
    "performance_summary",
    "pin_params",
    "pinned_model",
    "portfolio_risk",
    "position_breaches",
    "predict",
    "predict_history",
    "preview_order",
    "queue_manual_order",
    "rearm_kill_switch",
    "record_sign_in",
    "record_sign_out",
    "regime_timeline",
    "remove_password",
    "report_job_error",
    "request_cancel",
    "require_checked",
    "research_executor",
    "reset_drawdown_halt",
    "reset_login_attempts",
    "retrain_for_loop",
    "retrain_models",
    "retrain_status",
    "risk_engine",
    "risk_limits",
    "risk_report",
    "risk_status",
    "rolling_sharpe",
    "rolling_var",
    "run_diff_job",
    "run_tick",
    "safe_database_url",
    "save_fill_costs",
    "save_risk_limits",
    "score_headline",
    "send_test_notification",
    "sentiment_ablation",
    "session_diff",
    "session_forecast_summary",
    "session_forecasts",
    "set_context",
    "set_password",
    "shared_research_executor",
    "sign_in_required",
    "snapshot_equity",
    "start_task",
    "start_training",
    "strategy_catalog",
    "sweep",
    "sweep_result",
    "task",
    "ticket_orders",
    "ticket_prices",
    "trade_rows",
    "trading_loop",
    "train",
    "use_model_for_paper",
    "var_backtests",
    "venue_broker",
    "walk_forward",
]

_AREAS: dict[str, tuple[str, ...]] = {  # module -> the public names it defines
    "core.models.registry": ("ModelNotFound",),
    "core.services.ablation": ("sentiment_ablation",),
    "core.services.alerts": ("Alert", "alerts", "position_breaches"),
    "core.services.auth": (
        "LoginResult", "auth_session_expired", "auth_status", "identity_too_old", "login", "login_wait", "password_version", "record_sign_in",
        "record_sign_out", "remove_password",
        "reset_login_attempts", "set_password", "sign_in_required",
    ),
    "core.services.backtest": ("backtest", "list_strategies", "parse_size"),
    "core.services.background": ("Task", "forget_task", "start_task", "task"),
    "core.services.book": ("bundled_returns", "market_state", "paper_asof", "paper_book", "paper_state"),
    "core.services.context": ("Context", "get_context", "set_context"),
    "core.services.dashboard": ("dashboard", "equity_frame", "latest_signals"),
    "core.services.data": ("bars_to_records", "list_series", "list_symbols", "load_bars"),
    "core.services.diff": ("NoSession", "diff_days", "diff_status", "run_diff_job", "session_diff"),
    "core.services.execution": ("PaperSession", "list_fills", "list_orders", "order_events", "order_manager", "paper_broker", "paper_session"),
    "core.services.exposure": ("forecast_exposure",),
    "core.services.forecast_session": ("session_forecast_summary", "session_forecasts"),
    "core.services.feeds": ("check_feed", "close_feeds"),
    "core.services.headlines": ("news_frame",),
    "core.services.health": ("check_model_health", "health_status", "model_health", "pinned_model", "retrain_status"),
    "core.services.lab": (
        "bars_from_csv", "bars_from_upload", "buy_and_hold_curve", "compare_strategies", "lab_backtest", "lab_frames", "parameter_sweep",
    ),
    "core.services.manual": (
        "cancelled_manual_orders", "pending_cancels", "pending_manual_orders", "preview_order", "queue_manual_order", "request_cancel", "ticket_orders",
    ),
    "core.services.models": ("audit", "list_models", "load_model", "model_report", "predict", "predict_history", "regime_timeline"),
    "core.services.news": ("ensure_news", "fetch_news", "headline_scorer", "list_news", "news_features", "news_to_records", "score_headline"),
    "core.services.notifications": ("get_notifier", "notify", "notify_error", "notify_event", "send_test_notification"),
    "core.services.orders_view": ("fill_rows", "open_order_rows", "ticket_prices", "trade_rows"),
    "core.services.performance": ("equity_returns", "monthly_returns", "performance_summary", "rolling_sharpe"),
    "core.services.research": (
        "list_sweeps", "parse_grid", "research_executor", "shared_research_executor", "sweep", "sweep_result", "var_backtests", "walk_forward",
    ),
    "core.services.risk": (
        "engage_kill_switch", "kelly_sizer", "portfolio_risk", "rearm_kill_switch", "reset_drawdown_halt", "risk_engine", "risk_report", "risk_status",
    ),
    "core.services.risk_views": ("book_exposure", "book_risk", "correlation_matrix", "limit_utilisation", "rolling_var"),
    "core.services.settings": ("config_view", "configured_fill_model", "fill_defaults", "risk_limits", "safe_database_url", "save_fill_costs",
                               "save_risk_limits"),
    "core.services.status": ("LoopState", "STATE_LABELS", "format_pct", "format_ts", "loop_state"),
    "core.services.strategies": ("check_strategy", "new_strategy", "require_checked", "strategy_catalog"),
    "core.services.strategy": ("build_strategy", "pin_params"),
    "core.services.trading": (
        "get_loop", "paper_start", "paper_status", "paper_stop", "report_job_error", "retrain_for_loop", "retrain_models", "run_tick", "snapshot_equity",
        "trading_loop", "use_model_for_paper",
    ),
    "core.services.training": ("start_training", "train"),
    "core.services.venues": ("check_venue", "venue_broker"),
    "core.services.verdicts": ("edge_verdict",),
    "core.services.windows": ("model_windows",),
}
_EXPORTS: dict[str, str] = {name: module for module, names in _AREAS.items() for name in names}  # name -> its module


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use and keep the name here."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'core.services' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Facade(types.ModuleType):
    """Keep a facade function when a submodule of the same name (``backtest``, ``dashboard``, ``alerts``) is imported.

    The import system sets ``core.services.<submodule>`` to the module object; eager imports
    used to overwrite that with the function right after, so ``services.backtest(...)`` kept working.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _EXPORTS and value.__name__ == f"{__name__}.{name}":
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Facade
