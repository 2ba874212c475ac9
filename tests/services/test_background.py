"""Background tasks: state, progress, result or error, one task per key, and the worker-process variant."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core import services
from core.services import background
from tests.ui.settle import hold


def settings_url() -> str:
    return services.get_context().settings.database_url


def _until(cond, timeout: float = 120.0) -> None:
    """Poll ``cond`` (a guard against a hung task, not a timing assertion)."""
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.02)


def test_a_task_reports_progress_then_its_result_and_its_key_returns_the_same_task(tmp_path):
    gate = tmp_path / "go"
    calls = []

    def fn(progress):
        calls.append(1)
        return hold(str(gate), progress)

    task = services.start_task("t-progress", fn, label="holding", progress_arg="progress")
    _until(lambda: task.fraction == 0.5)
    assert task.running and task.state == "running" and task.message == "half" and task.label == "holding"
    assert services.start_task("t-progress", fn) is task and services.task("t-progress") is task  # no second run while it runs
    gate.touch()
    assert task.wait(60)
    assert task.state == "done" and task.result == os.getpid() and task.fraction == 1.0 and task.error is None
    assert services.start_task("t-progress", fn) is task and calls == [1]  # a finished task is its key's result


def test_a_failing_task_keeps_its_error_and_starts_again_on_the_next_start():
    calls = []

    def boom():
        calls.append(1)
        raise ValueError("no bars for XYZ")

    task = services.start_task("t-fail", boom)
    assert task.wait(60)
    assert task.state == "failed" and isinstance(task.error, ValueError) and str(task.error) == "no bars for XYZ" and task.result is None
    again = services.start_task("t-fail", boom)
    assert again is not task
    assert again.wait(60) and calls == [1, 1]


def test_count_progress_becomes_a_fraction_and_a_message():
    seen = threading.Event()
    release = threading.Event()

    def counted(progress):
        progress(3, 4)
        seen.set()
        release.wait(60)

    task = services.start_task("t-count", counted, progress_arg="progress", counts=True)
    assert seen.wait(60)
    assert (task.fraction, task.message) == (0.75, "3 of 4")
    release.set()
    assert task.wait(60) and task.state == "done"


def test_only_the_newest_finished_tasks_are_kept(monkeypatch):
    monkeypatch.setattr(background, "MAX_FINISHED", 2)
    tasks = [services.start_task(f"t-keep-{i}", lambda i=i: i) for i in range(3)]
    for t in tasks:
        assert t.wait(60)
    kept = [k for k in ("t-keep-0", "t-keep-1", "t-keep-2") if services.task(k) is not None]
    assert kept == ["t-keep-1", "t-keep-2"]
    services.forget_task("t-keep-2")
    assert services.task("t-keep-2") is None


def test_a_process_task_runs_in_a_worker_with_this_contexts_settings_and_reports_progress(ctx, tmp_path):
    gate = tmp_path / "go"
    task = services.start_task("t-proc", hold, str(gate), progress_arg="progress", process=True)
    _until(lambda: task.fraction == 0.5)  # the worker's progress reached this process
    assert task.running and task.message == "half"
    gate.touch()
    assert task.wait(120)
    assert task.state == "done" and task.result != os.getpid()
    url = services.start_task("t-proc-url", settings_url, process=True)
    assert url.wait(120) and url.result == ctx.settings.database_url  # the worker works in the test's database, not the default one


def test_a_process_task_error_arrives_with_its_type(ctx):
    task = services.start_task("t-proc-fail", services.load_bars, "NO_SUCH_SYMBOL", process=True)
    assert task.wait(120)
    assert task.state == "failed" and isinstance(task.error, (ValueError, KeyError)), task.error


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


_PARENT = """
import os, sys, time
from core import services
from core.services import background
task = services.start_task("pid", os.getpid, process=True)
assert task.wait(120), task
print(task.result, os.getpid(), flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc (Linux)")
def test_workers_exit_when_the_process_that_started_them_is_killed(tmp_path):
    # the leak this guards: a server killed without its exit handlers left its workers alive for the idle timeout (30 min)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}", "PYTHONPATH": os.getcwd()}
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        worker, parent_pid = map(int, parent.stdout.readline().split())
        assert parent_pid == parent.pid and worker != parent.pid and _alive(worker)
        parent.kill()
        parent.wait(60)
        _until(lambda: not _alive(worker), timeout=60)
    finally:
        parent.kill()


def test_shutdown_stops_the_workers(ctx):
    task = services.start_task("t-proc-pid", os.getpid, process=True)
    assert task.wait(120) and _alive(task.result)
    background.shutdown_workers()  # what the server's shutdown hook calls
    _until(lambda: not _alive(task.result), timeout=60)


@pytest.fixture(autouse=True)
def _forget():
    yield
    for key in list(background._tasks):
        if key.startswith("t-"):
            background.forget_task(key)
