"""The README's configuration reference lists every settings key with its real default; its links resolve."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from core.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _leaf_keys(model: type[BaseModel], prefix: str = "") -> dict[str, object]:
    # Walked independently of scripts/config_reference.py, so a bug there cannot hide a key.
    out: dict[str, object] = {}
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            out.update(_leaf_keys(field.annotation, f"{prefix}{name}."))
        else:
            out[prefix + name] = field.default
    return out


def _readme_rows() -> dict[str, list[str]]:
    start = README.index("<!-- config-reference:start")
    end = README.index("<!-- config-reference:end -->")
    rows = {}
    for line in README[start:end].splitlines():
        m = re.match(r"\| `([a-z_.]+)` \| (.*?) \| `(APP__[A-Z_]+)` \| (.+) \|$", line)
        if m:
            rows[m.group(1)] = [m.group(2), m.group(3), m.group(4)]
    return rows


def test_the_two_commands_come_first():
    lines = [line for line in README.splitlines() if line.strip()]
    assert lines[1] == "```bash"
    assert lines[2].startswith("make run") and lines[3].startswith("make test")


def test_readme_lists_every_settings_key_exactly_once():
    keys = _leaf_keys(Settings)
    rows = _readme_rows()
    assert len(keys) > 70
    assert sorted(rows) == sorted(keys)
    assert README.count("<!-- config-reference:start") == 1


def test_readme_defaults_and_env_names_match_the_models():
    rows = _readme_rows()
    assert rows["risk.max_drawdown_pct"][0] == "`0.12`"
    assert rows["store.database_url"][0] == "`sqlite:///data/app.db`"
    assert rows["brokers.binance.testnet"][0] == "`true`"
    assert rows["brokers.alpaca.api_key"][0] == "unset"
    assert rows["trading.symbols"][0] == '`["AAPL", "MSFT", "IBM", "GOOG"]`'
    for key, default in _leaf_keys(Settings).items():
        shown, env, meaning = rows[key]
        assert env == "APP__" + key.upper().replace(".", "__")
        assert meaning.strip()
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            assert shown == f"`{default}`", key


def test_env_names_in_the_table_are_accepted_by_the_settings(tmp_path, monkeypatch):
    # Each variable the table names really sets its key (a wrong name would be an unknown key).
    from core.config import load_settings

    monkeypatch.setenv("APP__RISK__MAX_DRAWDOWN_PCT", "0.1")
    monkeypatch.setenv("APP__TRADING__BARS_PER_TICK", "7")
    monkeypatch.setenv("APP__NOTIFY__SMTP_PORT", "2525")
    s = load_settings(config_file=None, env_file=str(tmp_path / "none.env"))
    assert (s.risk.max_drawdown_pct, s.trading.bars_per_tick, s.notify.smtp_port) == (0.1, 7, 2525)


def test_generator_check_passes_on_the_committed_readme():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "config_reference.py"), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_generator_refuses_a_key_without_a_meaning(monkeypatch):
    spec = importlib.util.spec_from_file_location("config_reference", ROOT / "scripts" / "config_reference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.delitem(mod.MEANINGS, "log.json_lines")
    try:
        mod.table()
    except SystemExit as exc:
        assert "log.json_lines" in str(exc)
    else:
        raise AssertionError("a key without a meaning was accepted")


def test_local_links_resolve():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if target.startswith(("http", "test-artifacts/")):
            continue  # screenshots are produced by `make test`
        assert (ROOT / target).exists(), target


def test_every_page_has_a_screenshot_link():
    for page in ("dashboard", "trading", "portfolio", "backtest", "models", "risk", "news", "settings"):
        assert f"(test-artifacts/{page}.png)" in README, page


def test_cli_commands_in_the_readme_exist():
    from core.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    section = README[README.index("## Command line") : README.index("## Configuration")]
    found = re.findall(r"^\| `([a-z]+)[ `]", section, flags=re.M)
    assert len(found) >= 9
    for cmd in found:
        assert cmd in sub.choices, cmd
