"""Tables of the research sweeps: one ``sweeps`` row per sweep, one ``sweep_trials`` row per finished backtest.

A trial's ``trial_key`` is unique within its sweep (a hash of its parameters and
symbol), so a trial stored twice, e.g. when Dask reruns a task after losing a
worker, is refused by the database instead of duplicated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.store.tables import UTCDateTime


class SweepRow(SQLModel, table=True):
    """What was swept (strategy, symbols, grid, dates, costs), its state and its summary (DSR, PBO)."""

    __tablename__ = "sweeps"
    id: str = Field(primary_key=True, max_length=64)
    created: datetime = Field(sa_type=UTCDateTime)
    updated: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(default="sweep", max_length=32)
    strategy: str = Field(max_length=64)
    symbols: str
    status: str = Field(default="running", max_length=16)
    spec: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class SweepTrialRow(SQLModel, table=True):
    """One finished backtest of a sweep: parameters, symbol, metrics and a weekly equity summary."""

    __tablename__ = "sweep_trials"
    __table_args__ = (sa.UniqueConstraint("sweep_id", "trial_key", name="uq_sweep_trials_key"),)
    id: int | None = Field(default=None, primary_key=True)
    sweep_id: str = Field(index=True, max_length=64)
    trial_key: str = Field(max_length=64)
    symbol: str = Field(max_length=64)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    metrics: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    equity: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    finished: datetime = Field(sa_type=UTCDateTime)
