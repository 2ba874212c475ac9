"""Model registry: trained models as joblib files under ``data/models/``, one ``model_runs`` row each.

The file is written first (to a temporary name, then renamed) and the row
second, so a row never points at a half-written file. Loading checks that the
file exists and says how to fix it when it does not.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
from sqlmodel import select

from core.features import FeatureConfig
from core.store import Store
from core.store.tables import ModelRunRow


class ModelNotFound(LookupError):
    """No model with that id, or no model trained yet; the message says what to run."""


@dataclass
class ModelArtifact:
    """Everything needed to predict: the fitted ensemble, feature set, label horizon and regime classifiers."""

    model: Any
    columns: list[str]
    feature_config: FeatureConfig
    horizon: int
    symbols: list[str]
    regimes: dict[str, Any] = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    dead_band: float = 0.0
    model_id: str | None = None


def new_model_id(created: datetime, kind: str = "ensemble") -> str:
    """Return a sortable, unique model id such as ``ensemble-20240102T000000-1a2b3c``."""
    return f"{kind}-{created:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def save(
    artifact: ModelArtifact,
    store: Store,
    root: Path,
    *,
    created: datetime,
    features_hash: str,
    data_start: datetime | None,
    data_end: datetime | None,
    metrics: dict,
    kind: str = "ensemble",
) -> str:
    """Write ``artifact`` under ``root`` and record it in ``model_runs``; return the model id."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    model_id = new_model_id(created, kind)
    artifact.model_id = model_id
    path = root / f"{model_id}.joblib"
    tmp = path.with_suffix(".joblib.tmp")
    joblib.dump(artifact, tmp, compress=3)
    os.replace(tmp, path)
    with store.session() as s:
        s.add(
            ModelRunRow(
                id=model_id, created=created, kind=kind, symbols=",".join(artifact.symbols), features_hash=features_hash,
                data_start=data_start, data_end=data_end, params=artifact.params, metrics=metrics, path=str(path),
            )
        )  # fmt: skip
    return model_id


def get_run(store: Store, model_id: str | None = None, kind: str = "ensemble") -> ModelRunRow:
    """Return the row of ``model_id``, or of the newest model of ``kind`` when None."""
    with store.session() as s:
        if model_id:
            row = s.get(ModelRunRow, model_id)
            if row is None:
                raise ModelNotFound(f"no model '{model_id}': list them with 'python -m core train --list' or train one")
            return row
        row = s.exec(select(ModelRunRow).where(ModelRunRow.kind == kind).order_by(ModelRunRow.created.desc(), ModelRunRow.id.desc())).first()
    if row is None:
        raise ModelNotFound("no trained model yet: run 'python -m core train --symbols AAPL --horizon 5' first")
    return row


def load(store: Store, model_id: str | None = None, kind: str = "ensemble") -> ModelArtifact:
    """Return the artifact of ``model_id`` (the latest when None)."""
    row = get_run(store, model_id, kind)
    path = Path(row.path)
    if not path.exists():
        raise ModelNotFound(f"model file {path} of '{row.id}' is missing: retrain, or restore the file into data/models/")
    artifact = joblib.load(path)
    artifact.model_id = row.id
    return artifact


def list_runs(store: Store, limit: int = 50, kind: str | None = None) -> list[ModelRunRow]:
    """Return the newest model runs first."""
    with store.session() as s:
        q = select(ModelRunRow).order_by(ModelRunRow.created.desc(), ModelRunRow.id.desc()).limit(limit)
        if kind:
            q = q.where(ModelRunRow.kind == kind)
        return list(s.exec(q))
