"""The CLI as a user runs it: a subprocess, exit codes, one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def run(*args, tmp_path=None):
    env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "APP__LOG__DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)


def test_data_list_json(tmp_path):
    r = run("data", "list", "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    aapl = next(x for x in rows if x["symbol"] == "AAPL" and x["timeframe"] == "1d")
    assert aapl["start"].startswith("2000-03-01") and aapl["bars"] > 3000


def test_data_show_matches_the_parquet_file(tmp_path):
    r = run("data", "show", "MSFT", "--start", "2010-01-04", "--end", "2010-01-08", "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    ref = pd.read_parquet(ROOT / "data/sample/MSFT__1d.parquet").loc["2010-01-04":"2010-01-08"]
    assert [row["close"] for row in rows] == list(ref["close"])
    assert rows[0]["ts"] == "2010-01-04T00:00:00+00:00"


def test_data_show_user_file_and_errors(tmp_path):
    csv = tmp_path / "mine.csv"
    csv.write_text("TIME,OPEN,HIGH,LOW,CLOSE,VOLUME\n2024-01-01,1,2,0.5,1.5,10\n2024-01-02,1.5,2,1,1.8,11\n")
    ok = run("data", "show", "--data", str(csv), "--json", tmp_path=tmp_path)
    assert ok.returncode == 0 and json.loads(ok.stdout)[1]["close"] == 1.8
    csv.write_text("TIME,OPEN,HIGH,LOW,CLOSE,VOLUME\n2024-01-01,1,2,0.5,1.5,10\n2024-01-02,1.5,1.6,1,1.8,11\n")
    bad = run("data", "show", "--data", str(csv), tmp_path=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "row 1" in bad.stderr and "high >= max(open, close)" in bad.stderr
    assert "Traceback" not in bad.stderr
    unknown = run("data", "show", "NOPE", tmp_path=tmp_path)
    assert unknown.returncode == 2 and "no bundled data for NOPE" in unknown.stderr and "Traceback" not in unknown.stderr
    typo = run("dta", "list", tmp_path=tmp_path)
    assert typo.returncode == 2 and "did you mean 'data'" in typo.stderr


def test_bad_config_is_one_clear_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("risk:\n  max_position_pct: 7\n")
    r = run("--config", str(cfg), "data", "list", tmp_path=tmp_path)
    assert r.returncode == 2 and "risk.max_position_pct" in r.stderr and "Traceback" not in r.stderr


def test_paper_toggle_cli_roundtrip(tmp_path):
    assert json.loads(run("paper", "status", "--json", tmp_path=tmp_path).stdout)["enabled"] is False
    started = run("paper", "start", "--json", tmp_path=tmp_path)
    assert started.returncode == 0 and json.loads(started.stdout)["enabled"] is True
    # persisted: a new process sees it
    assert json.loads(run("paper", "status", "--json", tmp_path=tmp_path).stdout) == {"enabled": True, "mode": "paper"}
    assert "OFF" in run("paper", "stop", tmp_path=tmp_path).stdout
