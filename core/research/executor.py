"""The research executor: Dask ``distributed``, on an in-process ``LocalCluster`` or an existing cluster.

``DaskExecutor()`` starts a ``LocalCluster`` of worker processes sized to the machine
(one single-threaded worker per core) and closes it on exit; ``DaskExecutor(address=
"tcp://host:8786")`` connects to a running ``dask scheduler`` and leaves it running.
:class:`SequentialExecutor` runs the same tasks one after another in this process
(the baseline the benchmark and the tests compare with).

Data goes to the workers by reference: :meth:`DaskExecutor.map` scatters each shared
object once to every worker (``broadcast=True``) and tasks receive the future, so a
frame is never pickled per task. Results come back as small records, in completion
order, with ``progress(done, total)`` after each. A task whose worker dies is rerun
elsewhere by the scheduler (and up to ``retries`` times if it raises), so callers
must store results idempotently (see :mod:`core.research.sweep`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError
from typing import Any

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Task = tuple[str, Hashable, Any]  # (task key, key of the shared object, argument)


class SequentialExecutor:
    """Run tasks in this process, one after another (no Dask)."""

    name = "sequential"
    n_workers = 1

    def __enter__(self) -> SequentialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Callable[[Any, Any], Any], tasks: Sequence[Task], shared: Mapping[Hashable, Any],
            progress: Progress | None = None) -> Iterator[Any]:
        """Yield ``fn(shared[ref], arg)`` for every ``(key, ref, arg)`` task."""
        for i, (_, ref, arg) in enumerate(tasks, 1):
            out = fn(shared[ref], arg)
            if progress:
                progress(i, len(tasks))
            yield out


class DaskExecutor:
    """Run tasks on a Dask cluster: a new ``LocalCluster`` (default) or the scheduler at ``address``.

    Parameters
    ----------
    address
        ``tcp://host:8786`` of a running scheduler; ``None`` starts a ``LocalCluster``.
    n_workers
        Worker processes of the local cluster (0 = one per CPU core).
    retries
        Times a task that raised is retried (a task on a dead worker is always rescheduled).
    client
        An open ``distributed.Client`` to use as it is (left open on exit).
    """

    name = "dask"

    def __init__(self, address: str | None = None, n_workers: int = 0, retries: int = 2, client: Any = None) -> None:
        self.address = address
        self.n_workers = n_workers or os.cpu_count() or 1
        self.retries = retries
        self.cluster: Any = None
        self.client: Any = client
        self._own = client is None
        self._depth = 0

    def __enter__(self) -> DaskExecutor:
        from distributed import Client, LocalCluster

        self._depth += 1
        if self._depth > 1:  # re-entered while open (a shared executor): keep the cluster
            return self
        if not self._own:
            self.n_workers = max(len(self.client.scheduler_info(n_workers=-1).get("workers", {})), 1)
        elif self.address:
            try:
                self.client = Client(self.address, timeout="10s", set_as_default=False)
            except (OSError, TimeoutError) as exc:
                self._depth -= 1
                raise RuntimeError(f"cannot reach the Dask scheduler at {self.address}: {exc}. Start it with 'dask scheduler' "
                                   "or clear research.scheduler_address to use a local cluster") from None
            self.n_workers = max(len(self.client.scheduler_info(n_workers=-1).get("workers", {})), 1)
        else:
            import dask

            # The workers' statistical profiler samples every thread's stack every 10 ms, which only slows these
            # pure-Python backtests down (nobody looks at a local cluster's profile), so it is off here.
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                self.cluster = LocalCluster(n_workers=self.n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                            dashboard_address="127.0.0.1:0", silence_logs=logging.WARNING)  # HTTP server: loopback, free port
            self.client = Client(self.cluster, set_as_default=False)
        log.info("research executor: %s with %d workers", self.address or "LocalCluster", self.n_workers)
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth = max(self._depth - 1, 0)
        if not self._own or self._depth:
            return
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def map(self, fn: Callable[[Any, Any], Any], tasks: Sequence[Task], shared: Mapping[Hashable, Any],
            progress: Progress | None = None) -> Iterator[Any]:
        """Yield ``fn(shared[ref], arg)`` for every ``(key, ref, arg)`` task, in completion order."""
        from distributed import as_completed

        if self.client is None:
            raise RuntimeError("use the executor in a 'with' block")
        if not tasks:
            return
        refs = sorted({ref for _, ref, _ in tasks}, key=str)
        scattered = self.client.scatter([shared[r] for r in refs], broadcast=True, hash=False)
        by_ref = dict(zip(refs, scattered, strict=True))
        futures = [self.client.submit(fn, by_ref[ref], arg, key=key, retries=self.retries, pure=False) for key, ref, arg in tasks]
        task_of = {f.key: task for f, task in zip(futures, tasks, strict=True)}
        resubmitted: dict[str, int] = {}
        done = 0
        try:
            pending = as_completed(futures, loop=self.client.loop)
            for future in pending:
                try:
                    result = future.result()
                except CancelledError:
                    # A killed worker can take the scattered data a task needs with it, and the scheduler then cancels the
                    # task instead of rerunning it: scatter its data again and resubmit it (a result is still stored once).
                    key, ref, arg = task_of[future.key]
                    n = resubmitted[key] = resubmitted.get(key, 0) + 1
                    if n > self.retries + 1:
                        raise
                    log.warning("research task %s was cancelled (a worker died?): resubmitting it (%d)", key, n)
                    data = self.client.scatter(shared[ref], broadcast=True, hash=False)
                    again = self.client.submit(fn, data, arg, key=f"{key}-again{n}", retries=self.retries, pure=False)
                    task_of[again.key] = (key, ref, arg)
                    futures.append(again)
                    scattered.append(data)
                    pending.add(again)
                    continue
                done += 1
                if progress:
                    progress(done, len(tasks))
                yield result
        finally:
            self.client.cancel(futures + scattered)


def executor_from_settings(settings: Any, workers: int | None = None) -> DaskExecutor:
    """Return the executor ``settings.research`` describes: the cluster at ``scheduler_address``, else a local one."""
    conf = settings.research
    return DaskExecutor(address=conf.scheduler_address, n_workers=workers if workers is not None else conf.n_workers, retries=conf.retries)
