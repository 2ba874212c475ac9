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
import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from core.config_sections import (  # noqa: F401  (re-exported: import sections from core.config)
    DATABASE_SCHEMES,
    AlpacaSettings,
    AuthSettings,
    BinanceSettings,
    BrokerSettings,
    DataSettings,
    DriftSettings,
    FeatureSwitches,
    LogSettings,
    ModelsSettings,
    NewsSettings,
    NotifySettings,
    ResearchSettings,
    RiskSettings,
    SchedulerSettings,
    SignalsSettings,
    StopSettings,
    StoreSettings,
    StrategiesSettings,
    TradingSettings,
    ZerodhaSettings,
)
from core.domain import Mode

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "APP__"


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message says how to fix it.

    ``problems`` holds pydantic's error dicts (``loc``, ``input``, ``type``, ``ctx``) when a form's
    values were refused, so a page can name its own fields in its own units.
    """

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


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


def _not_json(error: str, dotenv_path: Path) -> str | None:
    """Return one line naming the variable whose list or section value is not JSON (pydantic-settings names only the section)."""
    section = error.split('field "', 1)[1].split('"', 1)[0] if 'field "' in error else ""
    if not section:
        return None
    from dotenv import dotenv_values

    prefix = f"{ENV_PREFIX}{section}__".upper()
    found = {**(dotenv_values(dotenv_path) if dotenv_path.is_file() else {}), **os.environ}
    for name, value in found.items():
        if not name.upper().startswith(prefix) or value is None:
            continue
        loc = tuple(part.lower() for part in name[len(ENV_PREFIX):].split("__"))
        kind = str(_field_type(loc))
        if not any(word in kind for word in ("list", "dict", "tuple", "set", "Settings")):
            continue
        try:
            json.loads(value)
        except ValueError:
            listed = any(word in kind for word in ("list", "tuple", "set["))
            example = '["AAPL", "MSFT"]' if listed else '{"name": 10}'
            other = "" if listed else f", or set its keys one by one ({name.upper()}__NAME=10)"
            return (f"config key '{'.'.join(loc)}' = {_shown(loc, value)}: {_env_hint(loc)} must be JSON, e.g. {name.upper()}='{example}'{other}. "
                    "Fix it in the environment/.env.")
    return None


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
    except (OSError, ValueError) as exc:  # e.g. an unreadable .env, or a list given as AAPL,MSFT rather than JSON
        raise ConfigError(_not_json(str(exc), dotenv_path) or f"cannot read configuration: {exc}") from None
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
