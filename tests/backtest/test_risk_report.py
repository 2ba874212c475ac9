"""A backtest the risk engine changed says so (CLI text and --json), and the buy & hold baseline is meaningful under limits."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core import services
from core.services.data import load_bars

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "APP__LOG__DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "core", "backtest", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)


def test_default_sma_cross_on_spx_says_which_limit_stopped_it(tmp_path):
    # SPX trades above 500 points: 5 % of 10,000 is less than one index unit, so every entry is vetoed.
    r = run_cli("--strategy", "sma_cross", "--symbol", "SPX", "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["trades"] == 0
    changes = report["risk_changes"]
    assert changes["veto"] > 0 and changes["veto"] == sum(row["count"] for row in changes["reasons"] if row["action"] == "veto")
    assert changes["reasons"][0]["reason"].startswith("position capped at 5.00% of equity")
    assert any(w.startswith("no trade: the risk engine vetoed") and "position capped at 5.00%" in w for w in report["warnings"])
    text = run_cli("--strategy", "sma_cross", "--symbol", "SPX", tmp_path=tmp_path)
    assert f"{changes['veto']} orders vetoed" in text.stdout and "warning: no trade: the risk engine vetoed" in text.stdout


def test_a_run_with_trades_counts_changes_without_a_no_trade_warning(ctx):
    res = services.backtest("sma_cross", symbol="AAPL", ctx=ctx)
    assert res.report["trades"] > 0
    assert res.report["risk_changes"]["shrink"] > 0  # all-in entries shrink to the 5 % position cap
    assert not any(w.startswith("no trade:") for w in res.report.get("warnings", []))


def test_buy_and_hold_under_configured_limits_retries_its_vetoed_entry(ctx):
    services.save_risk_limits({"stop": {"enabled": False}}, ctx=ctx)  # held to the end: no protective stop (risk.stop) cuts it
    res = services.backtest("buy_and_hold", symbol="AAPL", ctx=ctx)
    bars = load_bars("AAPL", ctx=ctx)
    # The first entries are vetoed for too little return history (20 returns = 21 closes); the retry on
    # the bar where history suffices fills at the next bar's open.
    reasons = res.report["risk_changes"]["reasons"]
    assert any(a == "veto" and r.startswith("no return history (20+ rows)") for (a, r) in reasons)
    assert len(res.fills) == 1  # bought once, held to the end
    assert res.fills[0].ts == bars.index[21].to_pydatetime()
    assert res.fills[0].price == pytest.approx(bars["open"].iloc[21])
    assert res.report["return_pct"] != 0
    # The baseline row is buy & hold without limits: all-in from the first bar, sized and filled at the next open.
    qty = 10_000 // bars["open"].iloc[1]
    final = 10_000 - qty * bars["open"].iloc[1] + qty * bars["close"].iloc[-1]
    assert res.report["buy_and_hold_return_pct"] == pytest.approx((final / 10_000 - 1) * 100, rel=1e-9)
