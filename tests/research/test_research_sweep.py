"""Sweeps: grids, invalid combinations, stored and resumable trials, the same answer on Dask as in sequence, no lost or doubled trial."""

from __future__ import annotations

import json
import os
import signal

import pandas as pd
import pytest
import sqlalchemy as sa

from core import services
from core.backtest import run_backtest
from core.cli import main as cli_main
from core.research import DaskExecutor, parse_grid
from core.research import repo as sweep_repo
from core.services.backtest import backtest_stop, make_backtest_risk

GRID = ["fast=5:15:5", "slow=10:30:10"]  # 9 combinations, 2 invalid (fast >= slow)
WINDOW = {"start": "2011-06-01", "end": "2012-12-31"}


@pytest.fixture(scope="module")
def dask_client():
    """One LocalCluster with 2 worker processes for the module (starting one costs seconds)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0")
    client = Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def _stored(ctx, sweep_id: str) -> pd.DataFrame:
    with ctx.store.engine.connect() as conn:
        return pd.read_sql(sa.text("select trial_key, symbol, params from sweep_trials where sweep_id = :s"), conn, params={"s": sweep_id})


def test_parse_grid_ranges_include_the_stop_and_lists_keep_strings():
    assert parse_grid(["fast=5:50:5"]) == {"fast": list(range(5, 55, 5))}
    assert parse_grid(["slow=20:200:10"])["slow"][-1] == 200
    assert parse_grid(["mode=long_short,long_flat", "x=0.5:1.5:0.5"]) == {"mode": ["long_short", "long_flat"], "x": [0.5, 1.0, 1.5]}
    for bad in ["fast", "fast=5:1", "fast=a:b", "fast=1:9:0"]:
        with pytest.raises(ValueError, match="fast"):
            parse_grid([bad])


def test_sweep_counts_invalid_combinations_stores_trials_and_matches_a_direct_backtest(ctx):
    res = services.sweep("sma_cross", "AAPL,MSFT", GRID, sequential=True, **WINDOW)
    s = res.summary
    assert s["n_skipped"] == 2 and s["n_trials"] == 14 and res.ran == 14 and res.reused == 0
    assert len(_stored(ctx, res.sweep_id)) == 14
    # The best trial is the one with the highest Sharpe ratio, and its numbers are those of the public backtest with the risk engine
    # and the configured protective stop on.
    assert s["best"]["metrics"]["sharpe"] == res.trials["sharpe"].max()
    best = s["best"]
    frame = services.load_bars(best["symbol"], **WINDOW)
    ref = run_backtest(frame, "sma_cross", symbol=best["symbol"], params=best["params"], risk=make_backtest_risk("configured"), baseline=False,
                       stop=backtest_stop("configured"))
    assert best["metrics"]["sharpe"] == ref.report["sharpe"] and best["metrics"]["trades"] == ref.report["trades"]
    assert s["dsr"]["n_trials"] == 14 and 0.0 <= s["dsr"]["dsr"] <= 1.0
    assert s["pbo"]["pbo"] is not None and len(s["pbo"]["rank_is"]) == 14
    assert services.list_sweeps()[0]["sweep_id"] == res.sweep_id


def test_sweep_resumes_without_rerunning_finished_trials(ctx):
    first = services.sweep("sma_cross", "AAPL", GRID, sequential=True, random=4, seed=1, **WINDOW)
    assert first.ran == 4
    # Simulate a crash after two trials: drop the rest from the store, then run the same sweep again.
    keys = sorted(_stored(ctx, first.sweep_id)["trial_key"])
    with ctx.store.engine.begin() as conn:
        conn.execute(sa.text("delete from sweep_trials where trial_key in :k").bindparams(sa.bindparam("k", expanding=True)), {"k": keys[2:]})
    again = services.sweep("sma_cross", "AAPL", GRID, sequential=True, random=4, seed=1, **WINDOW)
    assert (again.sweep_id, again.ran, again.reused) == (first.sweep_id, 2, 2)
    assert again.summary["dsr"] == first.summary["dsr"]
    done = services.sweep("sma_cross", "AAPL", GRID, sequential=True, random=4, seed=1, **WINDOW)
    assert done.ran == 0 and done.reused == 4


def test_storing_a_trial_twice_keeps_one_row(ctx):
    res = services.sweep("sma_cross", "AAPL", ["fast=5", "slow=10,20"], sequential=True, **WINDOW)
    records = [{"key": k, "symbol": "AAPL", "params": {}, "metrics": {"sr": 0.1}} for k in _stored(ctx, res.sweep_id)["trial_key"]]
    sweep_repo.save_trials(ctx.store, res.sweep_id, records)  # e.g. a task Dask ran twice
    assert len(_stored(ctx, res.sweep_id)) == 2


def test_trials_are_stored_once_per_key_on_sqlite_and_postgresql(db_url):
    from core.store import Store

    store = Store(db_url)
    sweep_repo.ensure_sweep(store, "sw-test", "sma_cross", ["AAPL"], {"grid": {}})
    rec = [{"key": f"k{i}", "symbol": "AAPL", "params": {"fast": i}, "metrics": {"sr": 0.1 * i}, "equity": {"weekly": [1.0, 1.1]}} for i in range(3)]
    sweep_repo.save_trials(store, "sw-test", rec)
    sweep_repo.save_trials(store, "sw-test", rec[1:])  # delivered again, e.g. by a retried task
    rows = sweep_repo.load_trials(store, "sw-test")
    assert [r.trial_key for r in rows] == ["k0", "k1", "k2"] and rows[2].metrics == {"sr": 0.2} and rows[0].params == {"fast": 0}
    assert sweep_repo.finished_keys(store, "sw-test") == {"k0", "k1", "k2"}


def test_local_cluster_with_two_workers_gives_the_sequential_results(ctx, dask_client, tmp_path):
    par = services.sweep("sma_cross", "AAPL,MSFT", GRID, executor=DaskExecutor(client=dask_client), **WINDOW)
    assert par.executor == "dask"
    from core.config import load_settings
    from core.services import Context

    other = Context.create(load_settings(config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": f"sqlite:///{tmp_path / 's.db'}"},
                                         log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False}))
    seq = services.sweep("sma_cross", "AAPL,MSFT", GRID, sequential=True, ctx=other, **WINDOW)
    assert seq.sweep_id == par.sweep_id
    cols = sorted(par.trials.columns)
    key = ["symbol", "p_fast", "p_slow"]
    a = par.trials[cols].sort_values(key).reset_index(drop=True)
    b = seq.trials[cols].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert par.summary["dsr"] == seq.summary["dsr"] and par.summary["pbo"]["pbo"] == seq.summary["pbo"]["pbo"]
    assert par.summary["best"] == seq.summary["best"]


def test_ensemble_walk_forward_folds_on_the_research_cluster_equal_the_in_process_run(dask_client):
    import numpy as np

    from core.models.cv import PurgedWalkForward
    from core.models.dataset import build_dataset
    from core.models.ensemble import EnsembleClassifier
    from core.models.walkforward import walk_forward

    data = build_dataset({"IBM": services.load_bars("IBM", start="2011-06-01"), "MSFT": services.load_bars("MSFT", start="2011-06-01")}, horizon=3)
    model = EnsembleClassifier(members=("rf", "gb"), n_estimators=5, gb_max_iter=5)
    kw = {"overlap": 3, "importance_rows": 0, "fit_final": True}
    seq = walk_forward(data, model, PurgedWalkForward(3, embargo=6), n_jobs=1, **kw)
    dist = walk_forward(data, model, PurgedWalkForward(3, embargo=6), executor=DaskExecutor(client=dask_client), **kw)
    assert dist["oof"]["p"] == pytest.approx(seq["oof"]["p"], abs=1e-12)
    assert [f["metrics"] for f in dist["folds"]] == [f["metrics"] for f in seq["folds"]]
    x = data.X.to_numpy()
    np.testing.assert_allclose(dist["final_model"].predict_proba(x), seq["final_model"].predict_proba(x))


def test_var_backtests_on_the_research_cluster_equal_the_direct_kupiec_tests(ctx, dask_client):
    from core.risk.var_backtest import backtest

    methods, levels = ("historical", "parametric", "cornish_fisher"), (0.95, 0.99)
    table = services.var_backtests("SPX,AAPL", methods, levels, window=250, start="2010-01-01", end="2012-12-31",
                                   executor=DaskExecutor(client=dask_client))
    assert len(table) == 2 * 2 * 3
    for row in table.itertuples():
        ref = backtest(services.load_bars(row.symbol, start="2010-01-01", end="2012-12-31")["close"].pct_change().dropna(), row.method, row.level,
                       window=250)
        assert (row.n, row.exceedances, row.lr, row.p_value) == (ref.n, ref.exceedances, ref.lr, ref.p_value)


def test_a_worker_killed_mid_sweep_loses_no_trial_and_stores_none_twice(ctx, dask_client):
    pids = dask_client.run(os.getpid)
    killed = []

    def kill_one(done: int, total: int) -> None:
        if done >= 1 and not killed:
            victim = next(iter(pids.values()))
            os.kill(victim, signal.SIGKILL)  # the nanny restarts it; the scheduler reruns its tasks elsewhere
            killed.append(victim)

    res = services.sweep("sma_cross", "AAPL,MSFT,IBM", GRID, executor=DaskExecutor(client=dask_client), progress=kill_one, **WINDOW)
    assert killed
    stored = _stored(ctx, res.sweep_id)
    assert len(stored) == 21 and stored["trial_key"].is_unique
    assert res.summary["n_trials"] == 21 and res.summary["n_failed"] == 0
    trials = {(r.symbol, json.dumps(r.params, sort_keys=True)) for r in stored.itertuples()}
    assert len(trials) == 21


def test_cli_sweep_prints_dsr_pbo_and_json(ctx, capsys):
    code = cli_main(["sweep", "--strategy", "sma_cross", "--symbols", "AAPL", "--grid", "fast=5:15:5", "--grid", "slow=10:30:10",
                     "--start", WINDOW["start"], "--end", WINDOW["end"], "--sequential"])
    out = capsys.readouterr().out
    assert code == 0
    assert "2 invalid combinations skipped" in out and "deflated Sharpe ratio" in out and "probability of backtest overfitting" in out
    code = cli_main(["sweep", "--symbols", "AAPL", "--grid", "fast=5:15:5", "--grid", "slow=10:30:10", "--start", WINDOW["start"],
                     "--end", WINDOW["end"], "--sequential", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert payload["reused"] == 7 and payload["summary"]["n_trials"] == 7 and len(payload["trials"]) == 7
    assert cli_main(["sweep", "--symbols", "AAPL", "--grid", "fast=5:x"]) == 2
    assert "range bounds must be numbers" in capsys.readouterr().err


def test_walk_forward_reports_only_out_of_sample_windows(ctx):
    wf = services.walk_forward("sma_cross", "AAPL", ["fast=5:15:5", "slow=20:40:20"], windows=3, sequential=True, start="2009-01-01",
                               end="2012-12-31")
    frame = services.load_bars("AAPL", start="2009-01-01", end="2012-12-31")
    chunk = len(frame) // 4
    assert list(wf.windows["window"]) == [1, 2, 3]
    assert wf.windows["test_start"].iloc[0] == frame.index[chunk]  # the first quarter is training only
    assert wf.equity.index[0] >= frame.index[chunk]
    # Each window trades the parameters that were best on its training window.
    for _, w in wf.windows.iterrows():
        k = w["window"] - 1
        train = frame.iloc[k * chunk:(k + 1) * chunk]
        scores = {}
        for fast in (5, 10, 15):
            for slow in (20, 40):
                rep = run_backtest(train, "sma_cross", symbol="AAPL", params={"fast": fast, "slow": slow}, risk=make_backtest_risk(),
                                   baseline=False, stop=backtest_stop()).report
                scores[(fast, slow)] = rep["sharpe"] if pd.notna(rep["sharpe"]) else float("-inf")
        assert scores[(w["params"]["fast"], w["params"]["slow"])] == max(scores.values())
    assert set(wf.metrics) == {"AAPL", "portfolio"} and wf.metrics["AAPL"]["return_pct"] is not None
