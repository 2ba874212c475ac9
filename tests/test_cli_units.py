"""One unit convention for every ``--json`` key, whichever command prints it.

The same quantity measured by two commands on the same data must carry the same
value under the same key: the backtest's equity curve, written to a file, is fed
to ``risk --data``, and each metric both commands report must agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import empyrical as ep
import pandas as pd
import pytest

from core import services

ROOT = Path(__file__).resolve().parent.parent
ARGS = {"strategy": "sma_cross", "symbol": "AAPL", "cash": 10_000.0, "commission": 0.001, "start": "2004-01-01"}


def cli(*args: str, tmp_path: Path) -> dict:
    env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "APP__LOG__DIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_backtest_and_risk_report_the_same_quantity_under_the_same_key_and_unit(tmp_path: Path, ctx) -> None:
    bt = cli("backtest", "--strategy", ARGS["strategy"], "--symbol", ARGS["symbol"], "--cash", "10000", "--commission", "0.001",
             "--start", ARGS["start"], "--json", tmp_path=tmp_path)
    equity = services.backtest(ARGS.pop("strategy"), **ARGS, ctx=ctx).equity
    assert float(equity.iloc[-1]) == pytest.approx(bt["final_equity"], rel=1e-12)  # the same run
    curve = pd.DataFrame({"open": equity, "high": equity, "low": equity, "close": equity, "volume": 1.0})
    path = tmp_path / "equity.csv"
    curve.rename_axis("ts").reset_index().to_csv(path, index=False)
    risk = cli("risk", "--data", str(path), "--json", tmp_path=tmp_path)

    # The drawdown the issue found in two units and two signs: a positive percent in both.
    assert bt["max_drawdown_pct"] > 1.0
    assert risk["max_drawdown_pct"] == pytest.approx(bt["max_drawdown_pct"], rel=1e-9)
    for key in ("volatility_pct", "cagr_pct", "sharpe", "sortino", "calmar", "max_drawdown_bars", "periods_per_year"):
        assert risk[key] == pytest.approx(bt[key], rel=1e-6), key
    # VaR in percent too (historical, as empyrical computes it), like every loss a positive number.
    rets = equity.pct_change().dropna()
    assert risk["var_99_hist_pct"] == pytest.approx(-100 * ep.value_at_risk(rets, 0.01), rel=1e-9)
    assert not [k for k in risk if k.startswith(("var_", "cvar_")) and not k.endswith("_pct")]

