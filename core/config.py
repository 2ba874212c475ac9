"""Typed settings: defaults < ``config.yaml`` < ``.env`` < environment.

Environment variables are ``APP__SECTION__KEY`` (for example
``APP__RISK__MAX_DRAWDOWN_PCT=0.1``); ``DATABASE_URL`` is honoured as a
shortcut for ``APP__STORE__DATABASE_URL``. Validation happens once, in
:func:`load_settings`, and a bad value raises :class:`ConfigError` whose
message names the key and says how to fix it. Secrets are ``SecretStr``:
masked in ``repr``, in logs (see :mod:`core.log`) and in the UI.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from core.domain import Mode

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "APP__"


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message says how to fix it."""


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
    # ms per unit of ccxt's request cost (orders and, with data.provider venue, bars); empty = ccxt's pacing of Binance's
    # published weights. Lower it only for an endpoint without Binance's limits (a local exchange simulator).
    rate_limit_ms: float | None = Field(None, gt=0)


class AlpacaSettings(_Section):
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    paper: bool = True
    base_url: str | None = None


class ZerodhaSettings(_Section):
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    base_url: str | None = None


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
    symbols: list[str] = ["AAPL", "MSFT", "IBM", "GOOG"]
    timeframe: str = "1d"
    strategy: str = "ensemble"
    params: dict[str, Any] = {}
    cash: float = Field(100_000.0, gt=0)
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


# What a venue trades when only ``brokers.default`` names it: (symbols in the venue's spelling, bar interval).
VENUE_MARKETS: dict[str, tuple[tuple[str, ...], str]] = {"binance": (("BTC/USDT",), "1m"), "alpaca": (("AAPL", "MSFT"), "1h")}


class Settings(BaseSettings):
    """All settings of the platform; build one with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
        yaml_file="config.yaml",
    )

    mode: Mode = Mode.PAPER
    live_confirmed: bool = False
    store: StoreSettings = StoreSettings()
    data: DataSettings = DataSettings()
    risk: RiskSettings = RiskSettings()
    brokers: BrokerSettings = BrokerSettings()
    news: NewsSettings = NewsSettings()
    notify: NotifySettings = NotifySettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    trading: TradingSettings = TradingSettings()
    auth: AuthSettings = AuthSettings()
    strategies: StrategiesSettings = StrategiesSettings()
    signals: SignalsSettings = SignalsSettings()
    models: ModelsSettings = ModelsSettings()
    log: LogSettings = LogSettings()
    research: ResearchSettings = ResearchSettings()

    @field_validator("mode", mode="before")
    @classmethod
    def _lower_mode(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _venue_market(self) -> Settings:
        """Trade the venue's own market when ``brokers.default`` names one and nothing else was said.

        ``APP__BROKERS__DEFAULT=binance`` alone trades BTC/USDT 1m bars from Binance's market data,
        ``alpaca`` AAPL and MSFT 1h bars from Alpaca's; a ``trading.symbols``, ``trading.timeframe``
        or ``data.provider`` that was set (YAML, .env, environment) is kept as it is.
        """
        market = VENUE_MARKETS.get(self.brokers.default)
        if market is None:
            return self
        symbols, timeframe = market
        if "symbols" not in self.trading.model_fields_set:
            self.trading.symbols = list(symbols)
        if "timeframe" not in self.trading.model_fields_set:
            self.trading.timeframe = timeframe
        if "provider" not in self.data.model_fields_set:
            self.data.provider = "venue"
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier sources win: explicit arguments, environment, .env, config.yaml.
        return (init_settings, env_settings, dotenv_settings, YamlConfigSettingsSource(settings_cls))

    def secret_values(self) -> list[str]:
        """Return every configured secret's plain value (for log masking only)."""
        found: list[str] = []

        def walk(model: BaseModel) -> None:
            for name in type(model).model_fields:
                value = getattr(model, name)
                if isinstance(value, SecretStr):
                    plain = value.get_secret_value()
                    if plain:
                        found.append(plain)
                elif isinstance(value, BaseModel):
                    walk(value)

        walk(self)
        return found

    @property
    def database_url(self) -> str:
        """Return the database URL with relative SQLite paths anchored at the project root."""
        return resolve_sqlite_url(self.store.database_url)

    def path(self, relative: str) -> Path:
        """Return ``relative`` anchored at the project root (absolute paths pass through)."""
        p = Path(relative)
        return p if p.is_absolute() else ROOT / p


def resolve_sqlite_url(url: str) -> str:
    """Anchor a relative ``sqlite:///rel/path`` at the project root."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(ROOT / url[len(prefix) :])
    return url


def _env_hint(loc: tuple[Any, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def _check_yaml(path: Path) -> None:
    """Raise :class:`ConfigError` naming the line when ``path`` is not a YAML mapping of sections."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"config file {path}: invalid YAML{where}: {exc.problem or exc}. "
                          "Fix the syntax ('key: value', nested keys indented with spaces) or validate it with a YAML linter") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: not readable as YAML text ({type(exc).__name__}); give a UTF-8 YAML file") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read it ({exc.strerror or exc}); check the path and permissions") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be sections such as 'risk:' with indented keys, not a {type(data).__name__}")


_SECRET_WORDS = ("key", "secret", "token", "password", "webhook")


def _field_type(loc: tuple[Any, ...]) -> Any:
    """Return the annotation of the settings field at ``loc`` (None when there is no such field)."""
    model: Any = Settings
    annotation = None
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not fields or str(part) not in fields:
            return None
        annotation = fields[str(part)].annotation
        model = annotation
    return annotation


def _shown(loc: tuple[Any, ...], value: Any) -> str:
    """Return how a bad value may appear in a message: never a secret, a password in a URL hidden."""
    annotation = _field_type(loc)
    if (annotation is not None and "SecretStr" in str(annotation)) or any(w in str(p).lower() for p in loc for w in _SECRET_WORDS):
        return "<secret, not shown>"
    if loc and str(loc[-1]) == "database_url" and isinstance(value, str):
        return repr(_hide_password(value))
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _hide_password(url: str) -> str:
    """Return ``url`` with the password of ``scheme://user:password@host`` replaced by ``***``."""
    head, sep, tail = url.partition("://")
    if not sep or "@" not in tail:
        return url
    userinfo, _, rest = tail.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    return f"{head}://{user}{':***' if colon else ''}@{rest}"


def _error_line(err: Any) -> str:
    """Return one line for a pydantic error: the key, what is wrong, how to fix it; never an unknown key's value."""
    loc = tuple(err["loc"])
    if len(loc) == 1 and str(loc[0]).lower().startswith(ENV_PREFIX.lower()):
        loc = tuple(p.lower() for p in str(loc[0])[len(ENV_PREFIX):].split("__"))  # an unknown APP__X__Y line in .env
    key = ".".join(str(p) for p in loc)
    if err["type"] == "extra_forbidden":
        parent = _field_type(loc[:-1]) if len(loc) > 1 else Settings
        known = list(getattr(parent, "model_fields", {}) or {})
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{'.'.join([*map(str, loc[:-1]), close[0]])}' ({_env_hint((*loc[:-1], close[0]))})?" if close else (
            f"known keys here: {', '.join(known[:12])}{', ...' if len(known) > 12 else ''}." if known else "")
        return (f"config key '{key}' is not a known setting (its value is not shown); {hint} "
                f"Rename or remove it in config.yaml, or the variable {_env_hint(loc)} in the environment/.env.")
    msg = str(err["msg"]).removeprefix("Value error, ")
    env = _env_hint(loc) + (" (or DATABASE_URL)" if loc == ("store", "database_url") else "")
    return f"config key '{key}' = {_shown(loc, err.get('input'))}: {msg}. Fix it in config.yaml or set {env} in the environment/.env."


def load_settings(config_file: str | os.PathLike[str] | None = None, env_file: str | None = None, **overrides: Any) -> Settings:
    """Build and validate the settings.

    Parameters
    ----------
    config_file
        YAML file to read (default ``config.yaml`` in the project root, if present).
    env_file
        ``.env`` file to read (default ``.env`` in the project root, if present).
    **overrides
        Highest-priority values, e.g. ``mode="live"``.

    Raises
    ------
    ConfigError
        With one line per invalid key, naming it and how to set it.
    """
    yaml_path = Path(config_file) if config_file else ROOT / "config.yaml"
    dotenv_path = Path(env_file) if env_file else ROOT / ".env"
    if config_file and not yaml_path.exists():
        raise ConfigError(f"config file {yaml_path} does not exist: check the path or omit it to use defaults")
    if "DATABASE_URL" in os.environ and ENV_PREFIX + "STORE__DATABASE_URL" not in os.environ:
        overrides.setdefault("store", {})
        if isinstance(overrides["store"], dict):
            overrides["store"].setdefault("database_url", os.environ["DATABASE_URL"])

    class _Bound(Settings):
        model_config = SettingsConfigDict(yaml_file=str(yaml_path), env_file=str(dotenv_path))

    if yaml_path.exists():
        _check_yaml(yaml_path)
    try:
        settings = _Bound(**overrides)
    except ValidationError as exc:
        raise ConfigError("\n".join(_error_line(err) for err in exc.errors())) from None
    except (OSError, ValueError) as exc:  # e.g. an unreadable .env
        raise ConfigError(f"cannot read configuration: {exc}") from None
    if settings.mode is Mode.LIVE and not settings.live_confirmed:
        # Live needs two deliberate steps; a single flag is never enough.
        raise ConfigError(
            "config key 'mode' = 'live' needs explicit confirmation: also set live_confirmed: true "
            "(APP__LIVE_CONFIRMED=true) after reading the README's live-trading section, or use mode: paper."
        )
    return settings


def mask(value: str | SecretStr | None, keep: int = 4) -> str:
    """Return a masked form of a secret for display: ``'••••••cdef'``."""
    if value is None:
        return ""
    plain = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not plain:
        return ""
    if len(plain) <= keep * 2:
        return "•" * 8
    return "•" * 8 + plain[-keep:]
