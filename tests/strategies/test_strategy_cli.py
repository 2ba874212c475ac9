"""``python -m core strategy new|check|list`` as a user runs them: a subprocess, exit codes, JSON."""

import json
import subprocess
import sys

from tests.conftest import ROOT

PEEK = '''\
"""Buys when tomorrow closes higher: a look-ahead bug."""
WARMUP = 30


def signals(bars):
    close = bars["close"]
    return (close.shift(-1) > close).astype(float)
'''


def run(tmp_path, *args):
    env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "APP__LOG__DIR": str(tmp_path),
           "APP__STRATEGIES__DIR": str(tmp_path / "strategies")}
    return subprocess.run([sys.executable, "-m", "core", "strategy", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)


def test_new_writes_a_template_that_passes_the_check(tmp_path):
    r = run(tmp_path, "new", "my_trend")
    assert r.returncode == 0, r.stderr
    path = tmp_path / "strategies" / "my_trend.py"
    assert path.exists() and "def signals(bars" in path.read_text()
    again = run(tmp_path, "new", "my_trend")
    assert again.returncode == 2 and "already exists" in again.stderr
    taken = run(tmp_path, "new", "macd_trend")
    assert taken.returncode == 2 and "library strategy" in taken.stderr
    check = run(tmp_path, "check", "my_trend", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    out = json.loads(check.stdout)
    assert out["ok"] is True and out["lookahead"] is False and out["problems"] == [] and out["symbol"] == "AAPL"


def test_check_refuses_a_look_ahead_file_naming_the_bar(tmp_path):
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "peek.py").write_text(PEEK)
    r = run(tmp_path, "check", "peek", "--symbol", "MSFT", "--json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["lookahead"] is True and out["symbol"] == "MSFT"
    problem = out["problems"][0]
    assert problem["kind"] == "lookahead" and problem["bar"] and problem["difference"] == 1.0
    assert f"{tmp_path}/strategies/peek.py:5" in problem["message"]
    text = run(tmp_path, "check", "peek", "--symbol", "MSFT")
    assert text.returncode == 1 and "looks ahead: the value at bar " + problem["bar"] in text.stdout


def test_list_shows_every_origin_with_parameters_and_check_status(tmp_path):
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "peek.py").write_text(PEEK)
    (tmp_path / "strategies" / "broken.py").write_text("def signals(bars):\n    return bars.close *\n")
    r = run(tmp_path, "list", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    rows = {row["name"]: row for row in out["strategies"]}
    assert {"sma_cross", "buy_and_hold", "rsi_reversion", "bollinger_reversion", "donchian_breakout", "ts_momentum", "macd_trend",
            "vol_target_trend", "peek"} <= set(rows)
    assert rows["macd_trend"]["origin"] == "library" and rows["macd_trend"]["params"]["slow"] == 26 and rows["macd_trend"]["check"]["ok"]
    assert rows["sma_cross"]["origin"] == "built-in" and rows["sma_cross"]["kind"] == "event"
    assert rows["peek"]["origin"] == "user" and rows["peek"]["check"]["lookahead"] is True
    assert any("broken.py:2: syntax error" in e for e in out["errors"])
    text = run(tmp_path, "list")
    assert "LOOKS AHEAD" in text.stdout and "broken.py:2" in text.stdout
