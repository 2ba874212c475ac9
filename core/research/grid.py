"""Parameter grids: ``fast=5:50:5`` ranges, ``mode=long_short,long_flat`` lists, full or random combinations."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.engine import StrategyError
from core.strategies import make_strategy

MAX_COMBINATIONS = 1_000_000  # each set is checked by building its strategy: more would run for minutes before the first trial


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def parse_grid(specs: Sequence[str]) -> dict[str, list[Any]]:
    """Return ``{name: values}`` from ``name=start:stop:step`` (stop included) or ``name=a,b,c`` strings."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, sep, rhs = spec.partition("=")
        name, rhs = name.strip(), rhs.strip()
        if not sep or not name or not rhs:
            raise ValueError(f"a grid looks like fast=5:50:5 or mode=long_short,long_flat, not {spec!r}")
        if ":" in rhs:
            parts = rhs.split(":")
            if len(parts) not in (2, 3):
                raise ValueError(f"{name}: a range is start:stop[:step], e.g. 5:50:5, not {rhs!r}")
            try:
                start, stop, step = (_number(p) for p in (*parts, "1")[:3])
            except ValueError:
                raise ValueError(f"{name}: range bounds must be numbers, e.g. 5:50:5, not {rhs!r}") from None
            if not all(map(math.isfinite, (start, stop, step))):
                raise ValueError(f"{name}: range bounds must be finite numbers, e.g. 5:50:5, not {rhs!r}")
            if step <= 0 or stop < start:
                raise ValueError(f"{name}: a range needs start <= stop and a positive step, not {rhs!r}")
            count = math.floor((stop - start) / step + 1e-9) + 1
            if count > MAX_COMBINATIONS:
                raise ValueError(f"{name}: {rhs!r} holds {count:,} values, more than the {MAX_COMBINATIONS:,} sets a sweep tries; use a larger step")
            values = [start + i * step for i in range(count)]
            grid[name] = [round(v, 12) if isinstance(v, float) else v for v in values]
        else:
            values = []
            for item in (p.strip() for p in rhs.split(",") if p.strip()):
                try:
                    values.append(_number(item))
                except ValueError:
                    values.append(item)
            grid[name] = values
        if not grid[name]:
            raise ValueError(f"{name}: the grid has no values")
    if not grid:
        raise ValueError("give at least one --grid NAME=START:STOP:STEP")
    total = math.prod(len(v) for v in grid.values())
    if total > MAX_COMBINATIONS:
        raise ValueError(f"the grid holds {total:,} parameter sets, more than the {MAX_COMBINATIONS:,} a sweep tries; use larger steps or fewer values "
                         "(--random N then draws N of them)")
    return grid


def combinations(strategy: str, grid: Mapping[str, Sequence[Any]], base: Mapping[str, Any] | None = None, sample: int | None = None,
                 seed: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Return (valid parameter sets, number of invalid ones skipped) for ``strategy`` over ``grid``.

    A set is invalid when the strategy refuses it (e.g. sma_cross with fast >= slow).
    ``sample`` draws that many valid sets at random (seeded, without replacement).
    """
    names = list(grid)
    candidates = ({**dict(base or {}), **dict(zip(names, values, strict=True))} for values in itertools.product(*(grid[n] for n in names)))
    return valid_sets(strategy, candidates, names, sample, seed)


def valid_sets(strategy: str, candidates: Iterable[Mapping[str, Any]], names: Sequence[str] | None = None, sample: int | None = None,
               seed: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Return (the parameter sets ``strategy`` accepts, number refused), optionally a seeded random ``sample`` of them."""
    known = make_strategy(strategy).get_params()
    unknown = [n for n in (names or []) if n not in known]
    if unknown:
        raise ValueError(f"{strategy} has no parameter {', '.join(unknown)} (it has {', '.join(known) or 'none'})")
    valid, skipped = [], 0
    for params in map(dict, candidates):
        try:
            make_strategy(strategy, **params)
        except (StrategyError, ValueError, TypeError):
            skipped += 1
            continue
        valid.append(params)
    if sample is not None:
        if sample < 1:
            raise ValueError(f"--random needs a positive number of parameter sets, not {sample}")
        if sample < len(valid):
            valid = [valid[i] for i in sorted(random.Random(seed).sample(range(len(valid)), sample))]
    return valid, skipped
