"""The sections of the settings (``store:``, ``risk:``, ``brokers:`` ...): one pydantic model each.

:class:`core.config.Settings` holds one of each; import them from :mod:`core.config`.
Every section forbids unknown keys and validates on assignment.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator


class _Section(BaseModel):
    model_config = {"extra": "forbid", "validate_assignment": True, "allow_inf_nan": False}


DATABASE_SCHEMES = ("sqlite", "postgresql")


class StoreSettings(_Section):
    database_url: str = "sqlite:///data/app.db"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme.split("+", 1)[0] not in DATABASE_SCHEMES:
            what = f"unsupported database '{scheme}://'" if scheme else "not a database URL"
            raise ValueError(f"{what}; use sqlite:///path/to/app.db or postgresql+psycopg2://user@host:5432/dbname")
        return value


class DataSettings(_Section):
    sample_dir: str = "data/sample"
    models_dir: str = "data/models"
    default_symbol: str = "AAPL"
    # The paper loop's bars: the offline replay of stored bars (``sample`` is its old name) or a live provider.
    provider: Literal["replay", "sample", "venue", "ccxt", "alpaca", "yfinance", "zerodha"] = "replay"
    ccxt_exchange: str = "binance"  # which ccxt exchange the ``ccxt`` provider polls
    stale_after_bars: float = Field(3.0, gt=0)  # no new closed bar for this many bar intervals: stale-data halt
    base_url: str | None = None  # the ccxt/alpaca/zerodha data API at a proxy or local server (``venue`` uses the venue's)
    # ccxt/alpaca (and venue on Binance or Alpaca): closed bars pushed over the WebSocket; REST polling while it is down.
    stream: bool = False
    stream_url: str | None = None  # the WebSocket origin at a proxy or local server (each URL keeps its path, e.g. /ws)
    stream_timeout: float = Field(30.0, gt=0)  # seconds without a message before the socket counts as dropped (then REST)
    stream_retry: float = Field(5.0, gt=0)  # seconds between attempts to dial a dropped socket again


class StopSettings(_Section):
    """The protective stop every position a strategy opens carries (see :mod:`core.engine.protect`)."""

    enabled: bool = True
    kind: Literal["percent", "atr", "trailing"] = "percent"
    percent: float = Field(0.05, gt=0, lt=1)  # stop distance (percent and trailing kinds) as a fraction of the entry price
    atr_multiple: float = Field(3.0, gt=0, le=50)  # stop distance of the ``atr`` kind in ATRs
    atr_window: int = Field(14, ge=1, le=500)  # bars of the ATR (mean true range)
    take_profit_r: float = Field(0.0, ge=0, le=100)  # take-profit at this multiple of the stop distance (an OCO pair); 0 = none


class RiskSettings(_Section):
    max_position_pct: float = Field(0.05, gt=0, le=1)
    max_gross_exposure: float = Field(1.0, gt=0, le=10)
    max_net_exposure: float = Field(1.0, gt=0, le=10)
    max_drawdown_pct: float = Field(0.12, ge=0.10, le=0.15)
    daily_loss_cap_pct: float = Field(0.03, gt=0, le=1)
    max_correlation: float = Field(0.85, gt=0, le=1)
    max_cluster_pct: float = Field(0.25, gt=0, le=1)
    var_budget_pct: float = Field(0.02, gt=0, le=1)
    max_order_notional: float = Field(100_000.0, gt=0)
    max_orders_per_minute: int = Field(30, gt=0)
    kelly_fraction: float = Field(0.25, gt=0, le=1)
    # Forecast-driven exposure (issue 20): the VaR budget is checked against a next-bar forecast.
    forecast_var: bool = False
    forecast_model: Literal["garch_t", "quantile"] = "garch_t"
    stop: StopSettings = StopSettings()


class BinanceSettings(_Section):
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    testnet: bool = True
    base_url: str | None = None
    # ccxt's rate limiter: milliseconds per unit of request weight (unset: ccxt's 50 ms, Binance's 1,200 weight a minute)
    rate_limit_ms: float | None = Field(None, gt=0, le=10_000)


class AlpacaSettings(_Section):
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    paper: bool = True
    base_url: str | None = None
    # the client's own rate limit (token bucket, average requests per second): Alpaca allows 200 a minute per account
    requests_per_second: float = Field(3.0, gt=0, le=1000)


class ZerodhaSettings(_Section):
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    base_url: str | None = None
    # the client's own rate limit (token bucket, average requests per second): Kite allows 10 a second
    requests_per_second: float = Field(8.0, gt=0, le=1000)


class BrokerSettings(_Section):
    default: Literal["paper", "binance", "alpaca", "zerodha", "router"] = "paper"
    route: list[Literal["binance", "alpaca", "zerodha"]] = []
    binance: BinanceSettings = BinanceSettings()
    alpaca: AlpacaSettings = AlpacaSettings()
    zerodha: ZerodhaSettings = ZerodhaSettings()


class NewsSettings(_Section):
    rss_feeds: list[str] = []
    newsapi_key: SecretStr | None = None
    finnhub_key: SecretStr | None = None
    alphavantage_key: SecretStr | None = None
    # Appended for the news stream (issue 9). Base URLs are settings so tests and proxies can re-point them.
    symbols: list[str] = ["AAPL", "MSFT", "IBM", "GOOG", "BTC-USD"]
    aliases: dict[str, list[str]] = {}
    newsapi_base: str = "https://newsapi.org"
    finnhub_base: str = "https://finnhub.io"
    alphavantage_base: str = "https://www.alphavantage.co"
    http_timeout: float = Field(10.0, gt=0)
    lookback_days: int = Field(3, gt=0, le=365)
    bundled_file: str = "data/news/headlines.csv"
    scorer: Literal["lexicon", "finbert"] = "lexicon"
    sentiment_model: str | None = None
    sentiment_batch_size: int = Field(32, gt=0, le=4096)


class NotifySettings(_Section):
    telegram_enabled: bool = False
    telegram_token: SecretStr | None = None
    telegram_chat_id: str | None = None
    discord_enabled: bool = False
    discord_webhook_url: SecretStr | None = None
    email_enabled: bool = False
    smtp_host: str = "localhost"
    smtp_port: int = Field(587, gt=0, lt=65536)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    email_from: str | None = None
    email_to: str | None = None
    # Appended for notifications (issue 9).
    telegram_api_base: str = "https://api.telegram.org"
    smtp_starttls: bool = True
    smtp_ca_file: str | None = None
    timeout_seconds: float = Field(10.0, gt=0)
    rate_per_minute: int = Field(20, gt=0)
    events: list[str] = ["fill", "risk_veto", "halt", "kill_switch", "loop_error", "daily_summary", "model_drift", "live_gap"]


class SchedulerSettings(_Section):
    embedded: bool = True  # run the scheduler inside the app server process
    tick_seconds: float = Field(60.0, gt=0)
    retrain_hour_utc: int = Field(2, ge=0, le=23)
    news_minutes: float = Field(15.0, gt=0)
    diff_minutes: float = Field(60.0, gt=0)  # how often the backtest-vs-live diff re-runs the session's backtest


class TradingSettings(_Section):
    """What the background loop trades (a paper session keeps these from its start)."""

    account: str = "paper"
    symbols: list[str] = Field(["AAPL", "MSFT", "IBM", "GOOG"], min_length=1)
    timeframe: Literal["1s", "1m", "5m", "15m", "1h", "4h", "1d"] = "1d"  # the bar sizes of core.data.providers.TIMEFRAMES
    strategy: str = "ensemble"
    params: dict[str, Any] = {}
    cash: float = Field(100_000.0, gt=0, le=1e12)
    commission: float = Field(0.0005, ge=0, lt=0.1)
    # The fill model of the paper loop and of backtests (the Backtest page's defaults): one setting for both.
    slippage_bps: float = Field(0.0, ge=0, le=500)
    max_volume_share: float = Field(0.0, ge=0, le=1)  # 0 = no cap; else fills of a symbol take at most this share of a bar's volume
    warmup_bars: int = Field(1250, ge=50)  # 5 years of daily bars: the session's own model trains on 2000-2004, a full cycle, not only the 2000-02 crash
    bars_per_tick: int = Field(1, ge=1)
    lease_seconds: float = Field(90.0, gt=0)
    diff_alert_pct: float = Field(5.0, ge=0, le=100)  # notify when the live-vs-backtest gap (unmatched orders %, or |P&L gap| % of cash) passes it


class AuthSettings(_Section):
    """Sign-in when the app is reachable beyond this machine (see README "Run it on a server")."""

    required: bool = False  # also on a loopback bind, e.g. behind a reverse proxy on the same host
    session_minutes: float = Field(60.0, gt=0, le=7 * 24 * 60)
    free_attempts: int = Field(3, ge=1, le=100)
    backoff_seconds: float = Field(1.0, gt=0, le=3600)
    backoff_max_seconds: float = Field(900.0, gt=0, le=86_400)


class ResearchSettings(_Section):
    """Where research sweeps run: an in-process Dask ``LocalCluster`` (default) or an existing Dask cluster."""

    scheduler_address: str | None = None  # e.g. tcp://host:8786; empty = start a LocalCluster in this process
    n_workers: int = Field(0, ge=0, le=512)  # LocalCluster worker processes; 0 = one per CPU core
    retries: int = Field(2, ge=0, le=10)  # times Dask reruns a task whose worker died

    @field_validator("scheduler_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        if value is not None and "://" not in value:
            raise ValueError("a Dask scheduler address looks like tcp://host:8786 (leave it empty to use a local cluster)")
        return value


class SignalsSettings(_Section):
    """The signal processor's dedupe, cooldown and conflict rules for the ensemble strategy (pinned when a paper session starts)."""

    cooldown_bars: int = Field(5, ge=0, le=10_000)  # a symbol and direction traded less than this many bars ago is a duplicate: hold
    conflict_margin: float = Field(0.05, ge=0, le=2)  # an opposite signal within the cooldown must beat the last one's edge by more


class StrategiesSettings(_Section):
    """Where the user's own strategies live (``NAME.py`` files, found by name)."""

    dir: str = "strategies"


class DriftSettings(_Section):
    """When the pinned model's health alarm goes on (see :mod:`core.models.drift`)."""

    window: int = Field(120, ge=20)
    psi_max: float = Field(0.25, gt=0)
    psi_share: float = Field(0.25, gt=0, le=1)
    calibration_z: float = Field(3.0, gt=0)
    hit_rate_confidence: float = Field(0.99, gt=0.5, lt=1)
    block_entries: bool = False
    check_minutes: float = Field(60.0, gt=0)


class FeatureSwitches(_Section):
    sentiment: bool = False


class ModelsSettings(_Section):
    """Model health, feature options and the retrain job's replacement rule."""

    replace_rule: Literal["never", "better_logloss"] = "never"
    features: FeatureSwitches = FeatureSwitches()
    drift: DriftSettings = DriftSettings()


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    dir: str = "data/logs"
    json_lines: bool = False
