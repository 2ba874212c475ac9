"""``python -m core backtest`` as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from backtesting.test import GOOG

ROOT = Path(__file__).resolve().parents[2]


def run(*args, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "APP__LOG__DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "core", "backtest", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)


def test_json_report_on_a_user_file_matches_backtesting_py_reference(tmp_path):
    path = tmp_path / "goog.csv"
    GOOG.to_csv(path, index_label="Date")
    r = run("--strategy", "sma_cross", "--data", str(path), "--param", "fast=10", "--param", "slow=20", "--cash", "10000", "--commission", "0.002",
             "--risk", "permissive",
            "--size", "all-in", "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 1
    report = json.loads(r.stdout)
    required = {"trades", "final_equity", "return_pct", "sharpe", "sortino", "max_drawdown_pct", "win_rate_pct", "exposure_pct", "fees"}
    assert required <= report.keys()
    assert report["trades"] == 93 and report["final_equity"] == pytest.approx(56_263.52, abs=0.01)


def test_text_report_for_a_bundled_symbol_with_fractional_size(tmp_path):
    r = run("--symbol", "GOOG", "--size", "0.5", "--start", "2010-01-01", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Final equity" in r.stdout and "Buy & hold return [%]" in r.stdout and "Sharpe" in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "sma_crss", "--symbol", "GOOG"], "did you mean 'sma_cross'"),
        (["--symbol", "GOOG", "--param", "fsat=3"], "did you mean 'fast'"),
        (["--symbol", "GOOG", "--size", "2"], "size must be 'all-in' or a fraction"),
    ],
)
def test_user_errors_exit_nonzero_with_one_line(tmp_path, args, message):
    r = run(*args, tmp_path=tmp_path)
    errors = [line for line in r.stderr.splitlines() if not line.startswith("note: ")]  # a new store is announced on a note line
    assert r.returncode == 2 and len(errors) == 1 and message in errors[0] and "Traceback" not in r.stderr


def test_size_and_param_parsing():
    from core.cli import CliError
    from core.cli.backtest import _params
    from core.services import parse_size

    assert parse_size("all-in") == 1.0 and parse_size("0.25") == 0.25
    with pytest.raises(ValueError, match="fraction of equity"):
        parse_size("0")
    assert _params(["fast=5", "mode=long_flat"]) == {"fast": "5", "mode": "long_flat"}
    with pytest.raises(CliError, match="NAME=VALUE"):
        _params(["fast"])
