"""Background tasks in tests: wait for them as a user waits for the progress bar, or hold the worker processes busy."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core import services
from core.services.background import WORKERS, running


def settle(at: AppTest, timeout: float = 600.0) -> AppTest:
    """Wait until no background task runs, then rerun the page (its progress fragment reruns it the same way).

    ``timeout`` only stops a hung task from hanging the suite; nothing asserts how long a task took.
    """
    for task in running():
        assert task.wait(timeout), f"{task} still running after {timeout} s"
    return at.run()


def hold(gate: str, progress=None) -> int:
    """Report half done, wait until the file ``gate`` exists, return the process id (a task body for threads or workers)."""
    if progress is not None:
        progress(0.5, "half")
    while not Path(gate).exists():
        time.sleep(0.02)
    return os.getpid()


@contextmanager
def workers_held(folder: Path) -> Iterator[None]:
    """Keep every worker process busy until the block ends: a process task started inside stays queued, i.e. running."""
    gate = folder / "release-workers"
    held = [services.start_task(f"held-{gate}-{i}", hold, str(gate), process=True) for i in range(WORKERS)]
    try:
        yield
    finally:
        gate.touch()
        for task in held:
            task.wait(120)
