"""``research.scheduler_address`` sends a sweep to a separately started ``dask scheduler`` + ``dask worker`` (on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from core import services
from core.config import load_settings
from core.services import Context, set_context

ROOT = Path(__file__).resolve().parents[2]
WINDOW = {"start": "2012-01-01", "end": "2012-12-31"}


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dask scheduler exited with {proc.returncode}")
        if path.exists() and path.stat().st_size:
            try:
                return json.loads(path.read_text())
            except json.JSONDecodeError:
                pass
        time.sleep(0.2)
    raise TimeoutError("dask scheduler did not write its scheduler file")


@pytest.fixture
def dask_cluster(tmp_path):
    """A ``dask scheduler`` and one ``dask worker`` as subprocesses on free ports of 127.0.0.1, no dashboards."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sched_file)], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        address = _wait_for(sched_file, procs[0])["address"]
        procs.append(subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1",
                                       "--no-dashboard"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="30s", set_as_default=False) as client:
            client.wait_for_workers(1, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _ctx(tmp_path: Path, name: str, **research) -> Context:
    return Context.create(load_settings(config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": f"sqlite:///{tmp_path / name}"},
                                        log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False}, research=research))


def test_scheduler_address_runs_the_sweep_on_the_external_cluster(dask_cluster, tmp_path):
    ctx = _ctx(tmp_path, "remote.db", scheduler_address=dask_cluster)
    set_context(ctx)
    try:
        executor = services.research_executor(ctx)
        assert executor.address == dask_cluster
        res = services.sweep("sma_cross", "AAPL,MSFT", ["fast=5:10:5", "slow=20:30:10"], ctx=ctx, **WINDOW)
    finally:
        set_context(None)
    assert res.executor == "dask" and res.ran == 8
    seq = services.sweep("sma_cross", "AAPL,MSFT", ["fast=5:10:5", "slow=20:30:10"], sequential=True, ctx=_ctx(tmp_path, "local.db"), **WINDOW)
    key = ["symbol", "p_fast", "p_slow"]
    pd.testing.assert_frame_equal(res.trials.sort_values(key).reset_index(drop=True), seq.trials.sort_values(key).reset_index(drop=True))
    assert res.summary["dsr"] == seq.summary["dsr"]


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path):
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = _ctx(tmp_path, "x.db", scheduler_address=f"tcp://127.0.0.1:{port}")
    with pytest.raises(RuntimeError, match="cannot reach the Dask scheduler"):
        services.sweep("sma_cross", "AAPL", ["fast=5", "slow=20"], ctx=ctx, **WINDOW)


def test_scheduler_address_must_look_like_an_address(tmp_path):
    from core.config import ConfigError

    with pytest.raises(ConfigError, match="tcp://host:8786"):
        load_settings(config_file=None, env_file=str(tmp_path / "none.env"), research={"scheduler_address": "myhost"})
