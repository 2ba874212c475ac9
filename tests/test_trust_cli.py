"""The health, exposure and ablation commands as a user runs them."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args, tmp_path, timeout=600):
    env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "APP__LOG__DIR": str(tmp_path),
           "APP__DATA__MODELS_DIR": str(tmp_path / "models"), "APP__SCHEDULER__EMBEDDED": "false"}  # fmt: skip
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=timeout)


def test_health_without_a_model_says_what_to_run(tmp_path):
    r = run("health", tmp_path=tmp_path)
    errors = [line for line in r.stderr.splitlines() if not line.startswith("note: ")]  # a new store is announced on a note line
    assert r.returncode == 2 and len(errors) == 1 and "python -m core train" in errors[0]


def test_health_check_of_a_trained_model_is_stored_and_reported(tmp_path):
    t = run("train", "--symbols", "IBM", "--preset", "tiny", "--folds", "3", "--end", "2010-12-31", "--no-regime", "--importance-rows", "0",
            "--json", tmp_path=tmp_path)  # fmt: skip
    assert t.returncode == 0, t.stderr
    model_id = json.loads(t.stdout)["model_id"]
    r = run("health", "--check", "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["model_id"] == model_id and not rep["session"]
    assert rep["first_bar"] > "2010-12-31" and rep["n_live"] == 120  # models.drift.window bars after the training data
    assert 0 < rep["n_outcomes"] <= 120 - 5 and rep["n_features"] == 138
    assert rep["retrain"]["replace_rule"] == "never" and rep["retrain"]["next_run"].endswith("T02:00:00+00:00")
    text = run("health", tmp_path=tmp_path)
    assert text.returncode == 0 and f"model {model_id}" in text.stdout and "hit rate" in text.stdout


def test_exposure_reports_both_books(tmp_path):
    r = run("exposure", "--symbol", "SPX", "--start", "2008-09-01", "--end", "2008-10-31", "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["budget"] == 0.02 and rep["model"] == "garch_t"
    assert rep["scaled"]["vs_budget"]["n"] == rep["unscaled"]["vs_budget"]["n"] > 35
    assert rep["unscaled"]["vs_budget"]["rate"] > rep["scaled"]["vs_budget"]["rate"]
    bad = run("exposure", "--symbol", "SPX", "--start", "1999-02-01", tmp_path=tmp_path)
    assert bad.returncode == 2 and "need 251 bars before 1999-02-01" in bad.stderr
