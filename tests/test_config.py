import logging

import pytest
from pydantic import SecretStr

from core.config import ConfigError, load_settings, mask
from core.domain import Mode
from core.log import SecretMaskFilter


def _load(tmp_path, yaml_text=None, env_text=None, **kw):
    cfg = None
    if yaml_text is not None:
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml_text)
    env = tmp_path / ".env"
    env.write_text(env_text or "")
    return load_settings(config_file=cfg, env_file=str(env), **kw)


def test_defaults_are_paper_with_testnet_and_sqlite(tmp_path):
    s = _load(tmp_path)
    assert s.mode is Mode.PAPER
    assert s.brokers.binance.testnet is True and s.brokers.alpaca.paper is True
    assert s.risk.max_drawdown_pct == 0.12 and s.risk.max_position_pct == 0.05
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("data/app.db")


def test_layering_yaml_then_dotenv_then_environment(tmp_path, monkeypatch):
    yaml_text = "risk:\n  max_position_pct: 0.02\n  daily_loss_cap_pct: 0.04\n  var_budget_pct: 0.03\n"
    env_text = "APP__RISK__DAILY_LOSS_CAP_PCT=0.05\nAPP__RISK__VAR_BUDGET_PCT=0.06\n"
    monkeypatch.setenv("APP__RISK__VAR_BUDGET_PCT", "0.07")
    s = _load(tmp_path, yaml_text, env_text)
    assert s.risk.max_position_pct == 0.02  # yaml over default
    assert s.risk.daily_loss_cap_pct == 0.05  # .env over yaml
    assert s.risk.var_budget_pct == 0.07  # environment over .env


def test_database_url_shortcut(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://u@h/db")
    assert _load(tmp_path).database_url == "postgresql+psycopg2://u@h/db"


def test_bad_value_names_key_and_how_to_fix(tmp_path):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, "risk:\n  max_drawdown_pct: 0.5\n")
    msg = str(err.value)
    assert "risk.max_drawdown_pct" in msg and "APP__RISK__MAX_DRAWDOWN_PCT" in msg and "0.15" in msg


def test_unknown_key_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="risk.max_drawdwn"):
        _load(tmp_path, "risk:\n  max_drawdwn: 0.1\n")


def test_live_mode_needs_confirmation(tmp_path):
    with pytest.raises(ConfigError, match="live_confirmed"):
        _load(tmp_path, "mode: live\n")
    s = _load(tmp_path, "mode: LIVE\nlive_confirmed: true\n")
    assert s.mode is Mode.LIVE


def test_secrets_are_masked_in_repr_and_errors(tmp_path):
    s = _load(tmp_path, env_text="APP__BROKERS__ALPACA__API_KEY=PKSUPERSECRET123\n")
    assert "PKSUPERSECRET123" not in repr(s) and "PKSUPERSECRET123" not in str(s.model_dump())
    assert s.secret_values() == ["PKSUPERSECRET123"]
    assert mask(s.brokers.alpaca.api_key) == "••••••••T123"
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, env_text="APP__NOTIFY__SMTP_PORT=notaport\nAPP__BROKERS__BINANCE__API_KEY=\n")
    assert "notify.smtp_port" in str(err.value)


def test_log_filter_masks_secrets_in_message_args_and_tracebacks(caplog):
    filt = SecretMaskFilter(["s3cr3t-token-value"])
    logger = logging.getLogger("core.test_mask")
    handler = logging.Handler()
    seen = []
    handler.emit = lambda record: seen.append(logging.Formatter().format(record))
    handler.addFilter(filt)
    logger.addHandler(handler)
    try:
        logger.warning("connecting with %s", "s3cr3t-token-value")
        logger.warning("url=https://x/bot%s/send", SecretStr("s3cr3t-token-value").get_secret_value())
        try:
            raise RuntimeError("auth failed for s3cr3t-token-value")
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    joined = "\n".join(seen)
    assert "s3cr3t-token-value" not in joined
    assert joined.count("***") >= 3


def test_log_filter_ignores_values_too_short_to_be_secrets():
    filt = SecretMaskFilter(["t", "abc", "longer-secret"])
    assert filt.mask("the test of a longer-secret") == "the test of a ***"
