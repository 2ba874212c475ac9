"""Facade helpers behind the pages, checked against hand-computed values and direct textbook formulas."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core import services


def _curve(values, start="2021-01-29"):
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D", tz="UTC"), dtype=float)


def test_monthly_returns_compound_from_the_first_point():
    # 2021-01-29..31 then February: 100 -> 110 by end of January, 99 at the end of February
    eq = pd.Series([100.0, 105.0, 110.0, 120.0, 99.0],
                   index=pd.DatetimeIndex(["2021-01-29", "2021-01-30", "2021-01-31", "2021-02-10", "2021-02-28"], tz="UTC"))
    table = services.monthly_returns(eq)
    assert table.loc[2021, 1] == pytest.approx(0.10)
    assert table.loc[2021, 2] == pytest.approx(99 / 110 - 1)
    assert table.loc[2021].iloc[2:].isna().all() and list(table.columns) == list(range(1, 13))


def test_rolling_sharpe_and_summary_match_the_formula():
    rng = np.random.default_rng(1)
    eq = _curve(100 * np.cumprod(1 + rng.normal(0.001, 0.01, 200)))
    r = eq.pct_change().dropna().to_numpy()
    roll = services.rolling_sharpe(eq, window=20)
    last = r[-20:]
    assert roll.iloc[-1] == pytest.approx(last.mean() / last.std(ddof=1) * math.sqrt(252))
    assert len(roll) == len(r) - 19
    s = services.performance_summary(eq)
    assert s["total_return"] == pytest.approx(eq.iloc[-1] / eq.iloc[0] - 1)
    assert s["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252))
    with pytest.raises(ValueError, match="at least 3"):
        services.performance_summary(_curve([1.0, 2.0]))


def test_rolling_var_uses_only_the_past_window(ctx):
    out = services.rolling_var("IBM", window=100, level=0.99)
    r = services.load_bars("IBM")["close"].pct_change().dropna()
    day = out.index[500]
    past = r[r.index < day].tail(100).to_numpy()
    assert out.at[day, "hist"] == pytest.approx(-np.quantile(past, 0.01))
    assert out.at[day, "param"] == pytest.approx(-(past.mean() + stats.norm.ppf(0.01) * past.std(ddof=1)))
    assert out.at[day, "cvar_hist"] == pytest.approx(-past[past <= np.quantile(past, 0.01)].mean())
    assert out["breach"].equals(-out["return"] > out["hist"])


def test_correlation_matrix_drops_symbols_without_shared_history(ctx):
    corr = services.correlation_matrix()
    assert "BTC-USD" not in corr.columns and {"AAPL", "MSFT"} <= set(corr.columns)
    a, m = (services.load_bars(s)["close"].pct_change() for s in ("AAPL", "MSFT"))
    both = pd.concat([a, m], axis=1).dropna()
    assert corr.loc["AAPL", "MSFT"] == pytest.approx(np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1])


def test_limit_utilisation_of_a_fresh_account_is_zero(ctx):
    rows = {r["limit"]: r for r in services.limit_utilisation()}
    assert rows["Largest position"]["cap"] == 0.05 and all(r["used"] == 0 for r in rows.values())


def test_buy_and_hold_curve_splits_cash_equally():
    idx = pd.date_range("2020-01-01", periods=3, tz="UTC")
    frames = {"A": pd.DataFrame({"close": [10.0, 20.0, 15.0]}, index=idx), "B": pd.DataFrame({"close": [5.0, 5.0, 10.0]}, index=idx)}
    # 500 in each: A 500 -> 1000 -> 750, B 500 -> 500 -> 1000
    assert list(services.buy_and_hold_curve(frames, 1000.0)) == [1000.0, 1500.0, 1750.0]


def test_sweep_rows_equal_single_runs_and_flag_invalid_combinations(ctx):
    frames = services.lab_frames(["GOOG"])
    table = services.parameter_sweep(frames, "sma_cross", {"fast": [5, 30], "slow": [20]}, commission=0.001)
    single = services.lab_backtest(frames, "sma_cross", {"fast": 5, "slow": 20}, commission=0.001).report
    assert table.loc[0, "return_pct"] == pytest.approx(single["return_pct"])
    assert "fast < slow" in table.loc[1, "error"]


def test_slippage_moves_fills_against_the_order(ctx):
    frames = services.lab_frames(["GOOG"])
    plain = services.lab_backtest(frames, "sma_cross", {"fast": 5, "slow": 20}, slippage_bps=0.0, size=0.5, path="event")
    slipped = services.lab_backtest(frames, "sma_cross", {"fast": 5, "slow": 20}, slippage_bps=20.0, size=0.5)
    f0, s0 = plain.fills[0], slipped.fills[0]
    assert slipped.path == "event" and f0.ts == s0.ts
    assert s0.price == pytest.approx(f0.price * (1 + 0.002 * s0.side.sign))
    assert slipped.report["final_equity"] < plain.report["final_equity"]


def test_uploaded_csv_is_validated():
    csv = "date,open,high,low,close,volume\n" + "\n".join(f"2020-01-{d:02d},10,11,9,10.5,100" for d in range(1, 32))
    frame = services.bars_from_csv(csv.encode(), "mine.csv")
    assert len(frame) == 31 and frame.index.tz is not None
    with pytest.raises(ValueError, match="at least 30"):
        services.bars_from_csv("\n".join(csv.splitlines()[:11]).encode(), "short.csv")
