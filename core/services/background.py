"""Work that outlives a page's script run: tasks with progress, kept by key.

A page starts a task on a click (never on every rerun: the same key returns the task that
is running or has finished), returns at once and stays usable, and on later reruns reads
the task's fraction done, message, result or error. Finished tasks are kept (the newest
``MAX_FINISHED``), so a task's key doubles as a cache of its result for the process.

Each task has a thread in this process. With ``process=True`` the function itself runs in
a worker process (``WORKERS`` of them, started on first use and stopped after
``WORKER_IDLE_S`` idle seconds, with this process's settings): CPU-bound Python (training,
Markov and GARCH fits) would otherwise hold this interpreter's lock and slow every page of
the server while it runs. Such a function and its arguments must pickle, and it sees a
context of its own (same settings and clock, its own caches).

The same calls work from a notebook or the CLI: ``task.wait()`` blocks until it ends.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

log = logging.getLogger("core.services")

MAX_FINISHED = 64  # finished tasks kept for their results; the oldest go first
WORKERS = min(2, os.cpu_count() or 1)  # worker processes for process=True tasks
WORKER_IDLE_S = 600.0  # an idle worker exits after this; the next task starts a new one (a few seconds)
WORKER_NICE = 5  # scheduling priority below the server's: training and fits never starve the pages or the trading tick
PARENT_POLL_S = 1.0  # a worker checks this often that the process that started it is alive, and exits if not

_lock = threading.Lock()
_tasks: OrderedDict[str, Task] = OrderedDict()


class Task:
    """One function running on a daemon thread: its state, progress, result or error.

    ``state`` is ``"running"``, ``"done"`` or ``"failed"``; ``fraction`` (0 to 1) and
    ``message`` are what the function last reported; ``result`` is its return value and
    ``error`` the exception it raised.
    """

    def __init__(self, key: str, label: str) -> None:
        self.key = key
        self.label = label
        self.state = "running"
        self.fraction = 0.0
        self.message = "starting"
        self.result: Any = None
        self.error: BaseException | None = None
        self._started = time.monotonic()
        self._finished: float | None = None
        self._ended = threading.Event()

    @property
    def running(self) -> bool:
        """True until the function has returned or raised."""
        return self.state == "running"

    @property
    def elapsed(self) -> float:
        """Seconds since the start (until the end once finished)."""
        return (self._finished or time.monotonic()) - self._started

    def report(self, fraction: float, message: str) -> None:
        """Record progress (the ``progress(fraction, message)`` callback the function is given)."""
        self.fraction = float(min(max(fraction, 0.0), 1.0))
        self.message = str(message)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the task ends (or ``timeout`` seconds); return True if it ended."""
        return self._ended.wait(timeout)

    def _run(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            self.result = fn(*args, **kwargs)
            self.fraction, self.state = 1.0, "done"
        except BaseException as exc:  # reported to whoever reads the task, never lost on the thread
            self.error, self.state = exc, "failed"
            if not isinstance(exc, (ValueError, KeyError, RuntimeError, OSError)):
                log.error("background task %s failed", self.key, exc_info=exc)
        finally:
            self._finished = time.monotonic()
            self._ended.set()
            _trim()

    def __repr__(self) -> str:
        return f"Task({self.key!r}, {self.state}, {self.fraction:.0%} {self.message!r})"


def _trim() -> None:
    with _lock:
        finished = [k for k, t in _tasks.items() if not t.running]
        for key in finished[: max(len(finished) - MAX_FINISHED, 0)]:
            del _tasks[key]


def start_task(
    key: str, fn: Callable[..., Any], *args: Any, label: str = "", progress_arg: str | None = None, counts: bool = False, process: bool = False,
    **kwargs: Any,
) -> Task:  # fmt: skip
    """Run ``fn(*args, **kwargs)`` in the background under ``key``; return its :class:`Task` at once.

    If a task of that key is running or has finished, it is returned and nothing starts
    (a failed one is started again). With ``progress_arg``, ``fn`` gets a progress callback
    as that keyword argument (e.g. ``progress_arg="progress"``), called with (fraction,
    message), or with (done, total) when ``counts``. ``process`` runs ``fn`` in a worker
    process (see the module docstring).
    """
    with _lock:
        current = _tasks.get(key)
        if current is not None and current.state != "failed":
            _tasks.move_to_end(key)
            return current
        task = Task(key, label or key)
        _tasks[key] = task
    if process:
        fn, args, kwargs = _in_worker, (key, fn, args, kwargs, progress_arg, counts), {}
    elif progress_arg:
        kwargs[progress_arg] = _reporter(task.report, counts)
    threading.Thread(target=task._run, args=(fn, args, kwargs), name=f"task:{key}", daemon=True).start()
    return task


def _reporter(report: Callable[[float, str], None], counts: bool) -> Callable[[Any, Any], None]:
    if not counts:
        return report
    return lambda done, total: report(done / max(total, 1), f"{done} of {total}")


def task(key: str) -> Task | None:
    """Return the task of ``key`` (running or finished), or None."""
    with _lock:
        return _tasks.get(key)


def running() -> list[Task]:
    """Return the tasks still running (e.g. to wait for them in a test or at shutdown)."""
    with _lock:
        return [t for t in _tasks.values() if t.running]


def forget_task(key: str) -> None:
    """Drop a finished task (its result with it); a running one is kept."""
    with _lock:
        current = _tasks.get(key)
        if current is not None and not current.running:
            del _tasks[key]


# -- worker processes ---------------------------------------------------------------------------

_pool_lock = threading.Lock()
_pool: tuple[Any, Any, Any] | None = None  # (the context it serves, executor, progress queue)
_worker_queue: Any = None  # in a worker: the queue its tasks report progress on


def _in_worker(key: str, fn: Callable[..., Any], args: tuple, kwargs: dict, progress_arg: str | None, counts: bool) -> Any:
    """On the task's thread: send the call to a worker process and wait for its result."""
    return _executor().submit(_call, key, fn, args, kwargs, progress_arg, counts).result()


def _call(key: str, fn: Callable[..., Any], args: tuple, kwargs: dict, progress_arg: str | None, counts: bool) -> Any:
    """In a worker process: run the call, sending its progress back tagged with the task's key."""
    if progress_arg:
        queue = _worker_queue
        kwargs = {**kwargs, progress_arg: _reporter(lambda f, m: queue.put((key, float(f), str(m))), counts)}
    return fn(*args, **kwargs)


def _init_worker(settings: dict, clock: Any, extras: dict, queue: Any, parent: int) -> None:
    """Give a new worker process a context with the parent's settings, clock and model folder."""
    global _worker_queue
    os.nice(WORKER_NICE)  # below the server's own threads: a page's script run comes before a training fold
    from core.config import load_settings
    from core.services.context import Context, set_context

    ctx = Context.create(load_settings(**settings), clock=clock)
    ctx.extras.update(extras)
    set_context(ctx)
    _worker_queue = queue
    threading.Thread(target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """In a worker: exit as soon as the process that started it (``parent``, its pid) is gone.

    The pid comes from the parent, not from ``os.getppid()`` at start-up: a worker still starting
    when its parent died would otherwise take its new parent (init) for the one to watch.

    A server killed without running its exit handlers (SIGKILL, a crashed test run, a
    benchmark that kills its server) would otherwise leave its workers, each holding the
    model libraries (~250 MB), alive until their idle timeout.
    """
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(0)


def _executor() -> Any:
    """Return the worker pool of the current context (a new context, as in tests, gets a new pool)."""
    global _pool
    from joblib.externals.loky import ProcessPoolExecutor
    from joblib.externals.loky.backend.context import get_context as loky_context

    from core.services.context import get_context

    ctx = get_context()
    with _pool_lock:
        if _pool is not None and _pool[0] is ctx:
            return _pool[1]
        if _pool is None:
            atexit.register(shutdown_workers)
        else:
            _stop(_pool)
        queue = loky_context("loky").Queue()
        extras = {k: str(v) for k, v in ctx.extras.items() if k == "models_dir"}
        executor = ProcessPoolExecutor(max_workers=WORKERS, timeout=WORKER_IDLE_S, initializer=_init_worker,
                                       initargs=(ctx.settings.model_dump(), ctx.clock, extras, queue, os.getpid()))  # fmt: skip
        threading.Thread(target=_read_progress, args=(queue,), name="task-progress", daemon=True).start()
        _pool = (ctx, executor, queue)
        return executor


def shutdown_workers() -> None:
    """Stop the worker processes (at exit; the next process task starts new ones)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _stop(_pool)
        _pool = None


def _stop(pool: tuple[Any, Any, Any]) -> None:
    pool[1].shutdown(wait=False)
    pool[2].put(None)  # ends its reader thread


def _read_progress(queue: Any) -> None:
    while (item := queue.get()) is not None:
        key, fraction, message = item
        current = task(key)
        if current is not None and current.running:
            current.report(fraction, message)
