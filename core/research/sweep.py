"""Parameter sweeps: every parameter set x symbol is a risk-checked backtest, stored as it finishes, resumable.

The sweep id is a hash of what is swept (strategy, symbols, grid, sampling, dates,
costs, volume cap, risk limits, protective stop), so running the same sweep again resumes it: trials already in
the database are not rerun. Results are written by this process only (the workers
return records), with "on conflict do nothing" on the trial key, so a task that
Dask reruns after a worker died can never store a duplicate.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

import pandas as pd

from core.research import repo
from core.research.executor import DaskExecutor, SequentialExecutor
from core.research.grid import combinations, valid_sets
from core.research.summary import summarise, trials_frame
from core.research.trial import TrialSpec, run_trials, trial_key
from core.store import Store

Progress = Callable[[int, int], None]
CHUNK = 200  # trials per task: well under a second of work, so storing, progress and a lost worker's rerun stay fine-grained


@dataclass
class SweepResult:
    """A finished sweep: its id, one row per trial, the summary (best trial, DSR, PBO, warnings)."""

    sweep_id: str
    trials: pd.DataFrame
    summary: dict[str, Any]
    ran: int
    reused: int
    executor: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the trials as records)."""
        return {"sweep_id": self.sweep_id, "ran": self.ran, "reused": self.reused, "executor": self.executor, "summary": self.summary,
                "trials": json.loads(self.trials.to_json(orient="records"))}


def sweep_id_for(spec: Mapping[str, Any]) -> str:
    """Return the id of the sweep described by ``spec`` (equal specs give equal ids: that is how a sweep resumes)."""
    return "sw-" + hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _as_stored(rec: dict[str, Any]) -> dict[str, Any]:
    """Return a trial record as :func:`_record` reads it back after :func:`repo.save_trials` (plain JSON values: no copy needed)."""
    metrics = rec.get("metrics") or {"error": rec.get("error")}
    out = {"key": rec["key"], "symbol": rec["symbol"], "params": dict(rec["params"]), "equity": dict(rec.get("equity") or {})}
    if "error" in metrics and metrics.get("sr") is None:
        out["error"] = metrics["error"]
    else:
        out["metrics"] = dict(metrics)
    return out


def _record(row: Any) -> dict[str, Any]:
    metrics = dict(row.metrics or {})
    rec = {"key": row.trial_key, "symbol": row.symbol, "params": dict(row.params), "equity": dict(row.equity or {})}
    if "error" in metrics and metrics.get("sr") is None:
        rec["error"] = metrics["error"]
    else:
        rec["metrics"] = metrics
    return rec


def run_sweep(
    store: Store,
    frames: Mapping[str, pd.DataFrame],
    strategy: str,
    grid: Mapping[str, Sequence[Any]],
    *,
    limits: Any,
    sets: Sequence[Mapping[str, Any]] | None = None,
    base: Mapping[str, Any] | None = None,
    sample: int | None = None,
    seed: int = 0,
    cash: float = 10_000.0,
    commission: float = 0.0,
    size: float = 1.0,
    lot_size: float = 1.0,
    slippage_bps: float = 0.0,
    max_volume_share: float = 0.0,
    stop: Any = None,
    executor: DaskExecutor | SequentialExecutor | None = None,
    progress: Progress | None = None,
    describe: Mapping[str, Any] | None = None,
    n_splits: int = 16,
    flush_every: float = 1.0,
) -> SweepResult:
    """Run (or resume) the sweep of ``strategy`` over ``grid`` on every frame in ``frames``; return its result.

    Parameters
    ----------
    store
        Where the sweep and its trials are stored.
    frames
        Bars per symbol (sent to the workers once, by reference).
    limits
        The :class:`core.risk.limits.RiskLimits` every order of every trial is checked against.
    commission, slippage_bps, max_volume_share
        The fill model of every trial (:meth:`FillModel.from_costs`, as a single backtest and the paper loop).
    stop
        The :class:`core.engine.protect.StopPolicy` every trial's positions carry (None: no protective stops).
    sets
        Explicit parameter sets to run instead of the combinations of ``grid``.
    sample, seed
        Draw ``sample`` parameter sets at random from the valid grid (``--random N``).
    executor
        Where trials run (default: a :class:`DaskExecutor` on a local cluster).
    progress
        ``progress(done, total)`` after each trial, counting trials stored before.
    describe
        Extra fields that identify the data (e.g. timeframe, start, end) for the sweep id.
    """
    symbols = list(frames)
    if sets is not None:
        params_list, skipped = valid_sets(strategy, ({**dict(base or {}), **p} for p in sets), sample=sample, seed=seed)
        grid = {"sets": [dict(p) for p in sets]}
    else:
        params_list, skipped = combinations(strategy, grid, base=base, sample=sample, seed=seed)
    if not params_list:
        raise ValueError(f"no valid parameter set in the grid ({skipped} combinations refused by {strategy}, e.g. fast >= slow)")
    limits_desc = asdict(limits) if is_dataclass(limits) else repr(limits)
    spec = {"strategy": strategy, "symbols": symbols, "grid": {k: list(v) for k, v in grid.items()}, "base": dict(base or {}), "sample": sample,
            "seed": seed, "cash": cash, "commission": commission, "size": size, "lot_size": lot_size, "slippage_bps": slippage_bps, "limits": limits_desc,
            "max_volume_share": max_volume_share, "stop": asdict(stop) if stop is not None else None, **dict(describe or {})}
    sweep_id = sweep_id_for(spec)
    repo.ensure_sweep(store, sweep_id, strategy, symbols, spec)
    done, upto = repo.finished(store, sweep_id)
    todo: dict[str, list[TrialSpec]] = {sym: [] for sym in symbols}
    total = len(params_list) * len(symbols)
    for params in params_list:
        for sym in symbols:
            key = trial_key(params, sym)
            if key not in done:
                todo[sym].append(TrialSpec(key, sym, strategy, params, limits, cash=cash, commission=commission, size=size, lot_size=lot_size,
                                           slippage_bps=slippage_bps, max_volume_share=max_volume_share, stop=stop))
    n_todo = sum(len(v) for v in todo.values())
    reused = total - n_todo
    if progress:
        progress(reused, total)
    executor = executor or DaskExecutor()
    tasks = _chunks(sweep_id, todo, executor.n_workers)
    buffer: list[dict[str, Any]] = []
    fresh: list[dict[str, Any]] = []  # this run's records: the summary reads them from here, not back from the database
    last = time.monotonic()
    finished = False
    i = 0
    try:
        with executor if tasks else contextlib.nullcontext():
            for recs in executor.map(run_trials, tasks, frames, None) if tasks else ():
                buffer.extend(recs)
                fresh.extend(recs)
                if time.monotonic() - last >= flush_every:
                    repo.save_trials(store, sweep_id, buffer)
                    buffer, last = [], time.monotonic()
                i += len(recs)
                if progress:
                    progress(reused + i, total)
        finished = True
    finally:
        repo.save_trials(store, sweep_id, buffer)  # whatever finished is kept, even on an interrupt
        if not finished:
            repo.set_status(store, sweep_id, "interrupted")
    return load_sweep(store, sweep_id, skipped=skipped, ran=n_todo, reused=reused, executor=executor.name, n_splits=n_splits, status="done",
                      fresh=(upto, fresh))


def _chunks(sweep_id: str, todo: Mapping[str, list[TrialSpec]], n_workers: int) -> list[tuple[str, str, list[TrialSpec]]]:
    """Return tasks of up to :data:`CHUNK` trials of one symbol each, at least ~4 per worker, keyed by their first trial.

    A task of several trials shares their bars, calendar and indicators (:func:`run_trials`) and costs one Dask task
    instead of many; a task lost with its worker is rerun whole, and its records are stored once (keys are unique).
    """
    n = sum(len(v) for v in todo.values())
    size = max(1, min(CHUNK, -(-n // (4 * max(n_workers, 1)))))
    return [(f"trials-{sweep_id}-{specs[k].key}", sym, specs[k:k + size]) for sym, specs in todo.items() for k in range(0, len(specs), size)]


def load_sweep(store: Store, sweep_id: str, *, skipped: int | None = None, ran: int = 0, reused: int | None = None, executor: str = "",
               n_splits: int = 16, status: str | None = None, fresh: tuple[int, Sequence[dict[str, Any]]] | None = None) -> SweepResult:
    """Return the stored sweep ``sweep_id`` with a fresh summary (and store that summary; ``status`` None keeps the stored one).

    ``fresh`` is ``(upto, records)``: the rows up to id ``upto`` were stored before this run, which just stored
    ``records`` (read as stored, without reading them back).
    """
    row = repo.get_sweep(store, sweep_id)
    if row is None:
        raise ValueError(f"no sweep {sweep_id!r} in the database (see 'python -m core sweep --list')")
    if fresh is None:
        records = [_record(r) for r in repo.load_trials(store, sweep_id)]
    else:
        records = [_record(r) for r in repo.load_trials(store, sweep_id, upto=fresh[0])] + [_as_stored(r) for r in fresh[1]]
    if skipped is None:
        skipped = int((row.summary or {}).get("n_skipped", 0))
    summary = summarise(records, skipped=skipped, n_splits=n_splits)
    summary["sweep_id"] = sweep_id
    summary["strategy"] = row.strategy
    summary["symbols"] = row.symbols.split(",")
    summary["status"] = status or row.status
    repo.finish_sweep(store, sweep_id, summary, status=summary["status"])
    return SweepResult(sweep_id, trials_frame(records), summary, ran, len(records) - ran if reused is None else reused, executor)
