"""The look-ahead check for vectorised signals: a truncation test and a recursive warm-up test.

A vectorised ``signals(bars, **params)`` sees the whole frame, so it can use the
future by mistake (``shift(-1)``, a z-score over the full sample, ``bfill``). Two tests
catch that on real bars:

* **Truncation**: at many sampled bars ``t`` (evenly spread, plus the first and last),
  the values computed on ``bars[: t + 1]`` must equal the values computed on all bars,
  for every bar up to ``t``. When a sample differs, the bars between the last clean
  sample and it are tested one by one, and the first bar ``t`` whose value computed on
  ``bars[: t + 1]`` differs from the full-frame value is named, with the size of the
  difference.
* **Recursive warm-up**: the value at ``t`` computed on only the declared warm-up
  (the last ``warmup`` bars up to ``t``) must equal the full-frame value: results may
  not depend on how much history came before (a recursive indicator seeded at the
  first bar, a cumulative sum). This is also what makes the trading loop, which
  evaluates the function on that window, take the decisions the backtest took.

Values are compared with a tolerance of 1e-9 (absolute and relative); NaN equals NaN.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

TOL = 1e-9
SignalsFn = Callable[..., Any]


class ContractError(ValueError):
    """A signals function broke its contract; the message names the file and line."""


@dataclass
class Problem:
    """One finding of the check: ``kind`` is lookahead, warmup, contract or error."""

    kind: str
    message: str
    bar: str | None = None
    difference: float | None = None
    where: str | None = None


@dataclass
class CheckResult:
    """The outcome of :func:`check_signals` (``ok`` only when nothing was found)."""

    name: str
    ok: bool
    lookahead: bool
    problems: list[Problem] = field(default_factory=list)
    bars: int = 0
    tested: int = 0
    warmup: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of ``strategy check --json``."""
        return {"name": self.name, "ok": self.ok, "lookahead": self.lookahead, "problems": [asdict(p) for p in self.problems],
                "bars": self.bars, "tested": self.tested, "warmup": self.warmup}

    def summary(self) -> str:
        """Return one line per problem, or a line saying the check passed."""
        if self.ok:
            return f"{self.name}: passed the look-ahead check ({self.tested} truncations of {self.bars} bars, warm-up {self.warmup})"
        return "\n".join(f"{self.name}: {p.kind}: {p.message}" for p in self.problems)


def where(fn: Callable[..., Any]) -> str:
    """Return ``file:line`` of the definition of ``fn``."""
    try:
        return f"{inspect.getsourcefile(fn)}:{inspect.getsourcelines(fn)[1]}"
    except (OSError, TypeError):
        return getattr(fn, "__qualname__", repr(fn))


def raised_at(exc: BaseException, fn: Callable[..., Any] | None = None) -> str:
    """Return ``file:line`` where ``exc`` was raised, preferring the innermost frame in ``fn``'s own file."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return where(fn) if fn is not None else "?"
    own = None
    if fn is not None:
        try:
            own = inspect.getsourcefile(fn)
        except (OSError, TypeError):
            own = None
    mine = [f for f in frames if own and f.filename == own]
    frame = (mine or frames)[-1]
    return f"{frame.filename}:{frame.lineno}"


def call_signals(fn: SignalsFn, bars: pd.DataFrame, params: Mapping[str, Any]) -> np.ndarray:
    """Call ``fn(bars, **params)`` and return its values, checking the contract.

    Raises
    ------
    ContractError
        When the result is not a numeric Series (or 1-D array) of one value per bar
        on the bars' index with values in [-1, 1] (NaN means "no decision"), or when
        the function raised; the message says where.
    """
    try:
        out = fn(bars.copy(), **params)
    except Exception as exc:
        raise ContractError(f"signals raised {type(exc).__name__}: {exc} (at {raised_at(exc, fn)})") from exc
    at = where(fn)
    if isinstance(out, pd.DataFrame):
        raise ContractError(f"signals must return a pandas Series (one exposure per bar), got a DataFrame with columns {list(out.columns)[:5]} ({at})")
    if isinstance(out, pd.Series):
        if len(out) != len(bars) or not out.index.equals(bars.index):
            raise ContractError(f"signals must return one value per bar on the bars' index: got {len(out)} values for {len(bars)} bars"
                                f"{'' if len(out) != len(bars) else ' on a different index'} ({at})")
        values = out.to_numpy()
    elif isinstance(out, np.ndarray) and out.ndim == 1 and len(out) == len(bars):
        values = out
    else:
        raise ContractError(f"signals must return a pandas Series of target exposures, got {type(out).__name__} ({at})")
    try:
        values = values.astype(np.float64)
    except (TypeError, ValueError):
        raise ContractError(f"signals must return numbers in [-1, 1], got values of type {values.dtype} ({at})") from None
    bad = np.flatnonzero(np.abs(np.nan_to_num(values, nan=0.0)) > 1 + 1e-12)
    if bad.size:
        i = int(bad[0])
        raise ContractError(f"signals must return exposures in [-1, 1]: {values[i]:g} at bar {bars.index[i]} ({at}); scale it, e.g. .clip(-1, 1)")
    return values


def _mismatch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ~np.isclose(a, b, rtol=TOL, atol=TOL, equal_nan=True)


def _diff(a: float, b: float) -> float:
    if np.isnan(a) and np.isnan(b):
        return 0.0
    if np.isnan(a) or np.isnan(b):
        return float("inf")
    return float(abs(a - b))


def _fmt(value: float) -> str:
    return "NaN" if np.isnan(value) else f"{value:g}"


def sample_points(n: int, samples: int, start: int = 1) -> list[int]:
    """Return about ``samples`` sorted bar positions in ``[start, n - 1]``, first and last included."""
    if n <= start:
        return []
    return sorted({int(x) for x in np.linspace(start, n - 1, max(2, samples))})


def check_signals(fn: SignalsFn, bars: pd.DataFrame, params: Mapping[str, Any] | None = None, *, warmup: int | None = None,
                  samples: int = 50, name: str | None = None) -> CheckResult:
    """Run the truncation and recursive warm-up tests of ``fn`` on ``bars``; see the module docstring.

    Parameters
    ----------
    fn
        ``signals(bars, **params) -> pandas.Series`` of target exposures in [-1, 1].
    bars
        OHLCV bars of one symbol (columns open, high, low, close, volume; UTC time index).
    params
        Keyword arguments for ``fn``.
    warmup
        Bars of history the strategy declares it needs; None skips the warm-up test.
    samples
        How many truncation points to test.
    name
        Name used in messages (default: the function's module and name).
    """
    params = dict(params or {})
    name = name or f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__name__', 'signals')}"
    result = CheckResult(name=name, ok=False, lookahead=False, bars=len(bars), warmup=warmup)
    try:
        full = call_signals(fn, bars, params)
    except ContractError as exc:
        result.problems.append(Problem("error" if "raised" in str(exc) else "contract", str(exc), where=where(fn)))
        return result
    points = sample_points(len(bars), samples)
    try:
        found = _truncation(fn, bars, params, full, points, result)
        if found is not None:
            result.problems.append(found)
            result.lookahead = True
        elif warmup is not None:
            problem = _warmup(fn, bars, params, full, points, int(warmup))
            if problem is not None:
                result.problems.append(problem)
    except ContractError as exc:
        result.problems.append(Problem("error" if "raised" in str(exc) else "contract", f"on a shorter history: {exc}", where=where(fn)))
    result.ok = not result.problems
    return result


def _truncation(fn: SignalsFn, bars: pd.DataFrame, params: dict[str, Any], full: np.ndarray, points: list[int],
                result: CheckResult) -> Problem | None:
    clean = 0
    for t in points:
        result.tested += 1
        part = call_signals(fn, bars.iloc[: t + 1], params)
        if not _mismatch(part, full[: t + 1]).any():
            clean = t
            continue
        # Narrow down: the first bar whose own value, computed on bars up to it, differs.
        for u in range(clean + 1, t + 1):
            value = part[u] if u == t else call_signals(fn, bars.iloc[: u + 1], params)[u]
            result.tested += u != t
            if _mismatch(np.array([value]), full[u : u + 1])[0]:
                return _lookahead_problem(bars, u, value, full[u], fn)
        # Only earlier values moved (they depend on bars after t): name the earliest of them.
        u = int(np.flatnonzero(_mismatch(part, full[: t + 1]))[0])
        return _lookahead_problem(bars, u, part[u], full[u], fn, after=t)
    return None


def _lookahead_problem(bars: pd.DataFrame, u: int, value: float, reference: float, fn: SignalsFn, after: int | None = None) -> Problem:
    ts = bars.index[u]
    basis = f"bars up to {ts}" if after is None else f"bars up to {bars.index[after]}"
    diff = _diff(value, reference)
    msg = (f"looks ahead: the value at bar {ts} (bar #{u}) is {_fmt(value)} computed on {basis} but {_fmt(reference)} computed on all bars "
           f"(difference {diff:g}); it uses later bars (shift(-n), bfill, a full-sample statistic?) [{where(fn)}]")
    return Problem("lookahead", msg, bar=str(ts), difference=diff, where=where(fn))


def _warmup(fn: SignalsFn, bars: pd.DataFrame, params: dict[str, Any], full: np.ndarray, points: list[int], warmup: int) -> Problem | None:
    if warmup < 1:
        return Problem("contract", f"the declared warm-up must be at least 1 bar, not {warmup}", where=where(fn))
    for t in points:
        if t + 1 <= warmup:
            continue
        value = call_signals(fn, bars.iloc[t + 1 - warmup : t + 1], params)[-1]
        if not _mismatch(np.array([value]), full[t : t + 1])[0]:
            continue
        ts = bars.index[t]
        enough = next((w for w in (2 * warmup, 4 * warmup, 8 * warmup, 16 * warmup) if _reproduces(fn, bars, params, full, points, w)), None)
        hint = (f"{enough} bars reproduce the values at every tested bar: declare WARMUP = {enough}" if enough
                else "its value depends on all earlier history (a cumulative or recursive statistic?)")
        diff = _diff(value, full[t])
        msg = (f"depends on history beyond its declared warm-up of {warmup} bars: at bar {ts} the value is {_fmt(value)} with {warmup} bars "
               f"of history but {_fmt(full[t])} with all {t + 1} (difference {diff:g}); {hint} [{where(fn)}]")
        return Problem("warmup", msg, bar=str(ts), difference=diff, where=where(fn))
    return None


def _reproduces(fn: SignalsFn, bars: pd.DataFrame, params: dict[str, Any], full: np.ndarray, points: list[int], window: int) -> bool:
    """Return True when ``window`` bars of history give the full-history value at every tested bar that has more history.

    Three such bars at least: a window that fits almost nowhere proves nothing (a cumulative statistic would be told to declare it).
    """
    fits = [t for t in points if t + 1 > window]
    return len(fits) >= 3 and all(not _mismatch(call_signals(fn, bars.iloc[t + 1 - window : t + 1], params)[-1:], full[t : t + 1])[0] for t in fits)
