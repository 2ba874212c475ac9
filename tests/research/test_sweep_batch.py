"""A sweep's trials run in batches per symbol: each still equals the event-driven backtest, and the shared parts equal pandas'.

References: the event path (engine, order manager, paper broker, RiskEngine) for every trial's numbers;
pandas ``resample("W-FRI")`` for the week-end equity; one pandas Series per trial aligned by a DataFrame
for the overfitting matrix; a trial's stored records for resuming an interrupted sweep.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.backtest import run_backtest
from core.brokers.paper.fill_model import FillModel
from core.engine.protect import StopPolicy
from core.research import SequentialExecutor, repo, run_sweep
from core.research.summary import weekly_matrix
from core.research.trial import METRICS, TrialSpec, equity_summary, run_trials, trial_key
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.state import MemoryStore
from core.services.data import load_bars
from core.store import Store

LIMITS = RiskLimits(max_position_pct=0.5, var_budget_pct=0.01)  # the cap and the VaR budget both bind on AAPL
SETS = [{"fast": 5, "slow": 20}, {"fast": 10, "slow": 20}, {"fast": 10, "slow": 50, "mode": "long_flat"}, {"fast": 20, "slow": 50}]
STOPS = [None, StopPolicy("percent", percent=0.03), StopPolicy("atr", atr_multiple=2.0), StopPolicy("trailing", percent=0.05)]


@pytest.fixture(scope="module")
def aapl() -> pd.DataFrame:
    return load_bars("AAPL").iloc[-1500:]


def _spec(params: dict, stop: StopPolicy | None = None, **kw) -> TrialSpec:
    return TrialSpec(trial_key(params, "AAPL", str(stop)), "AAPL", "sma_cross", params, LIMITS, commission=0.001, stop=stop, **kw)


def test_batched_trials_equal_the_event_path_backtest_of_each_parameter_set_and_stop(aapl):
    specs = [_spec(p, stop) for stop in STOPS for p in SETS]
    records = run_trials(aapl, specs)
    for spec, rec in zip(specs, records, strict=True):
        ref = run_backtest(aapl, "sma_cross", symbol="AAPL", params=spec.params, risk=RiskEngine(LIMITS, MemoryStore()), path="event",
                           baseline=False, commission=0.001, stop=spec.stop)
        assert rec["metrics"]["path"] == "fast_risk"
        for k in METRICS:
            want = ref.report[k]
            got = rec["metrics"][k]
            assert (got is None and not math.isfinite(want)) or got == want, (spec.params, spec.stop, k, got, want)
        rets = ref.equity.to_numpy()[1:] / ref.equity.to_numpy()[:-1] - 1
        assert rec["metrics"]["sr"] == pytest.approx(rets.mean() / rets.std(ddof=1), rel=1e-12)
        assert rec["equity"]["final"] == ref.report["final_equity"]
    assert len({r["metrics"]["final_equity"] for r in records}) > 8  # the parameters and stops reached the trials


def test_a_trial_the_kernel_cannot_run_takes_the_event_path_in_a_batch(aapl):
    plain, slipped = _spec(SETS[0]), _spec(SETS[0], slippage_bps=5.0)
    rec_plain, rec_slipped = run_trials(aapl, [plain, slipped])
    ref = run_backtest(aapl, "sma_cross", symbol="AAPL", params=SETS[0], risk=RiskEngine(LIMITS, MemoryStore()), baseline=False,
                       fill_model=FillModel.from_costs(0.001, 5.0), path="event")
    assert (rec_plain["metrics"]["path"], rec_slipped["metrics"]["path"]) == ("fast_risk", "event")
    assert rec_slipped["metrics"]["final_equity"] == ref.report["final_equity"] != rec_plain["metrics"]["final_equity"]


def test_a_parameter_set_too_long_for_the_data_is_an_error_record_with_run_backtests_message(aapl):
    short = aapl.iloc[:40]
    rec, = run_trials(short, [_spec({"fast": 10, "slow": 50})])
    with pytest.raises(ValueError) as exc:
        run_backtest(short, "sma_cross", symbol="AAPL", params={"fast": 10, "slow": 50}, risk=RiskEngine(LIMITS, MemoryStore()), baseline=False)
    assert rec["error"] == str(exc.value).splitlines()[0] and "metrics" not in rec


def test_moving_averages_are_computed_once_per_window_on_a_symbol(aapl):
    from core.backtest.batch import SharedBars

    bars = SharedBars(aapl, "AAPL")
    for key in list(bars.memo):
        del bars.memo[key]
    specs = [_spec({"fast": f, "slow": s}) for f in (5, 10) for s in (20, 30, 50)]
    run_trials(aapl, specs)
    assert sorted(k[1] for k in bars.memo) == [5, 10, 20, 30, 50]  # 6 trials, 5 distinct windows


@pytest.mark.parametrize("freq, n, start", [("B", 800, "2011-01-03"), ("D", 900, "2019-12-28"), ("4h", 1200, "2024-02-29 22:00")])
def test_week_end_equity_equals_pandas_resample_on_fridays(freq, n, start):
    idx = pd.date_range(start, periods=n, freq=freq, tz="UTC")
    values = 10_000 * np.cumprod(1 + np.random.default_rng(n).normal(0, 0.01, n))
    got = equity_summary(pd.Series(values, index=idx))
    weekly = pd.Series(values, index=idx).resample("W-FRI").last().dropna()
    assert got["weeks"] == [int((t - pd.Timestamp("1970-01-01", tz="UTC")).days) for t in weekly.index]
    assert all((pd.Timestamp("1970-01-01") + pd.Timedelta(days=d)).day_name() == "Friday" for d in got["weeks"])
    assert got["weekly"] == pytest.approx(list(weekly), abs=6e-7)
    assert (got["start"], got["end"], got["final"]) == (idx[0].isoformat(), idx[-1].isoformat(), values[-1])


def test_overfitting_matrix_equals_each_trials_own_weekly_returns_aligned_by_pandas():
    rng = np.random.default_rng(4)
    records = []
    for i, (a, b) in enumerate([(0, 60), (5, 60), (0, 52), (3, 58)]):
        weeks = list(range(14000 + a, 14000 + b))
        del weeks[10 + i]  # each trial misses a different week
        records.append({"key": f"k{i}", "equity": {"weeks": weeks, "weekly": list(10_000 * np.cumprod(1 + rng.normal(0, 0.02, len(weeks))))}})
    keys, matrix = weekly_matrix(records)
    epoch = pd.Timestamp("1970-01-01")
    ref = pd.DataFrame({r["key"]: pd.Series(r["equity"]["weekly"], index=epoch + pd.to_timedelta(r["equity"]["weeks"], unit="D")).pct_change().iloc[1:]
                        for r in records}).dropna(how="any")
    assert keys == list(ref.columns)
    np.testing.assert_array_equal(matrix, ref.to_numpy())


def test_an_interrupted_sweep_keeps_its_finished_trials_and_reruns_only_the_rest(aapl, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    frames = {"AAPL": aapl, "MSFT": load_bars("MSFT").iloc[-1500:]}
    sets = [{"fast": f, "slow": s} for f in (5, 10, 15) for s in (20, 40)]
    seen = []

    def stop_after_two_tasks(done: int, total: int) -> None:
        seen.append(done)
        if len(seen) == 3:  # the first call reports the reused trials, then one call per task
            raise KeyboardInterrupt

    kw = {"sets": sets, "limits": LIMITS, "commission": 0.001, "executor": SequentialExecutor()}
    with pytest.raises(KeyboardInterrupt):
        run_sweep(store, frames, "sma_cross", {}, progress=stop_after_two_tasks, **kw)
    sweep_id = repo.list_sweeps(store)[0].id
    kept = repo.finished_keys(store, sweep_id)
    assert 0 < len(kept) < 12 and len(kept) == seen[-1] and repo.get_sweep(store, sweep_id).status == "interrupted"
    again = run_sweep(store, frames, "sma_cross", {}, **kw)
    assert (again.sweep_id, again.ran, again.reused) == (sweep_id, 12 - len(kept), len(kept))
    stored = repo.load_trials(store, sweep_id)
    assert len(stored) == 12 and len({r.trial_key for r in stored}) == 12
    assert again.summary["n_trials"] == 12
