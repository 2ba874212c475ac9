"""``python -m core risk`` as a user runs it, checked against empyrical and the formulas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]


def run(*args, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "APP__LOG__DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "core", "risk", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)


def test_risk_json_for_a_bundled_symbol(tmp_path):
    r = run("--symbol", "GOOG", "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    rets = pd.read_parquet(ROOT / "data/sample/GOOG__1d.parquet")["close"].pct_change().dropna()
    assert out["sharpe"] == pytest.approx(ep.sharpe_ratio(rets), rel=1e-6)
    assert out["sortino"] == pytest.approx(ep.sortino_ratio(rets), rel=1e-6)
    # percents, losses positive (the README's unit convention)
    assert out["volatility_pct"] == pytest.approx(100 * ep.annual_volatility(rets), rel=1e-6)
    assert out["max_drawdown_pct"] == pytest.approx(-100 * ep.max_drawdown(rets), rel=1e-6)
    assert out["var_95_hist_pct"] == pytest.approx(-100 * ep.value_at_risk(rets, 0.05), rel=1e-9)
    assert out["var_99_param_pct"] == pytest.approx(-100 * (rets.mean() + stats.norm.ppf(0.01) * rets.std()), rel=1e-9)
    for level in ("95", "99"):
        for method in ("hist", "param", "cf", "mc", "garch"):
            assert out[f"var_{level}_{method}_pct"] > 0 and out[f"cvar_{level}_{method}_pct"] > 0


def test_risk_from_a_file_and_errors(tmp_path):
    frame = pd.read_parquet(ROOT / "data/sample/MSFT__1d.parquet").iloc[:400]
    path = tmp_path / "msft.csv"
    frame.reset_index().to_csv(path, index=False)
    ok = run("--data", str(path), "--json", tmp_path=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["periods"] == 399
    text = run("--symbol", "AAPL", tmp_path=tmp_path)
    assert text.returncode == 0 and "var_99_garch_pct" in text.stdout
    both = run("--symbol", "AAPL", "--data", str(path), tmp_path=tmp_path)
    assert both.returncode == 2 and both.stderr.startswith("error: give --symbol") and len(both.stderr.strip().splitlines()) == 1
    short = tmp_path / "short.csv"
    frame.iloc[:20].reset_index().to_csv(short, index=False)
    bad = run("--data", str(short), tmp_path=tmp_path)
    assert bad.returncode == 2 and "at least 100 returns" in bad.stderr


@pytest.mark.parametrize(("symbol", "ppy"), [("BTC-USD", 365), ("AAPL", 252)])
def test_periods_per_year_follow_the_bar_calendar(tmp_path, symbol, ppy):
    """BTC trades 7 days a week: 365 daily periods a year; equities 252 (unless --periods-per-year says otherwise)."""
    out = json.loads(run("--symbol", symbol, "--json", tmp_path=tmp_path).stdout)
    rets = pd.read_parquet(ROOT / f"data/sample/{symbol}__1d.parquet")["close"].pct_change().dropna()
    assert out["periods_per_year"] == ppy
    assert out["sharpe"] == pytest.approx(ep.sharpe_ratio(rets, annualization=ppy), rel=1e-6)
    assert out["volatility_pct"] == pytest.approx(100 * ep.annual_volatility(rets, annualization=ppy), rel=1e-6)
    forced = json.loads(run("--symbol", symbol, "--periods-per-year", "52", "--json", tmp_path=tmp_path).stdout)
    assert forced["periods_per_year"] == 52
    assert forced["sharpe"] == pytest.approx(ep.sharpe_ratio(rets, annualization=52), rel=1e-6)


def test_intraday_periods_per_year_count_bars_per_trading_day():
    from core.risk.metrics import infer_periods_per_year

    btc = pd.read_parquet(ROOT / "data/sample/BTC-USD__15m.parquet").index
    assert infer_periods_per_year(btc) == 365 * 96  # around the clock, every day
    # An equity session: 26 fifteen-minute bars, 13:30-20:00 UTC, weekdays only.
    days = pd.bdate_range("2024-01-01", periods=60, tz="UTC")
    session = pd.DatetimeIndex([d + pd.Timedelta(minutes=810 + 15 * k) for d in days for k in range(26)])
    assert infer_periods_per_year(session) == 252 * 26
    weekly = pd.date_range("2020-01-03", periods=200, freq="W-FRI", tz="UTC")
    assert infer_periods_per_year(weekly) == pytest.approx(365.25 / 7)


def _beta(r: pd.Series, b: pd.Series) -> float:
    both = pd.concat([r, b], axis=1, join="inner").dropna().to_numpy()
    cov = np.cov(both[:, 0], both[:, 1])
    return float(cov[0, 1] / cov[1, 1])


def _rets(symbol: str) -> pd.Series:
    return pd.read_parquet(ROOT / f"data/sample/{symbol}__1d.parquet")["close"].pct_change().dropna()


def test_beta_against_a_chosen_benchmark(tmp_path):
    default = json.loads(run("--symbol", "AAPL", "--json", tmp_path=tmp_path).stdout)
    assert default["benchmark"] == "SPX"
    assert default["beta"] == pytest.approx(_beta(_rets("AAPL"), _rets("SPX")), rel=1e-9)
    vs_msft = json.loads(run("--symbol", "AAPL", "--benchmark", "MSFT", "--json", tmp_path=tmp_path).stdout)
    assert vs_msft["beta"] == pytest.approx(_beta(_rets("AAPL"), _rets("MSFT")), rel=1e-9)
    assert vs_msft["beta"] != pytest.approx(default["beta"], rel=1e-3)
    bad = run("--symbol", "AAPL", "--benchmark", "NOPE", tmp_path=tmp_path)
    assert bad.returncode == 2 and "NOPE" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_a_weighted_book_reports_concentration_and_beta(tmp_path):
    out = json.loads(run("--weights", "AAPL=0.3,MSFT=-0.1", "--json", tmp_path=tmp_path).stdout)
    closes = {s: pd.read_parquet(ROOT / f"data/sample/{s}__1d.parquet")["close"] for s in ("AAPL", "MSFT")}
    both = pd.DataFrame(closes).pct_change().dropna()  # returns on the dates both symbols trade
    port = both["AAPL"] * 0.3 - both["MSFT"] * 0.1
    assert out["concentration"] == pytest.approx(0.75**2 + 0.25**2)  # Herfindahl of |weights| / sum |weights|
    assert out["beta"] == pytest.approx(_beta(port, _rets("SPX")), rel=1e-9)
    assert out["var_95_hist_pct"] == pytest.approx(-100 * ep.value_at_risk(port, 0.05), rel=1e-9)
