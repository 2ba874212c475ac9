"""Features: turn OHLCV bars into 100+ causal, scale-free columns.

``compute(bars)`` is the only call the pipeline needs; the value at row t uses
bars up to t only (see :mod:`core.models.audit` for the check that proves it).
"""

from core.features._compute import CANDLES, compute
from core.features.config import FeatureConfig


def feature_hash(columns: list[str], config: FeatureConfig | None = None) -> str:
    """Return a short hash identifying a feature set (column names and windows)."""
    import hashlib
    import json

    payload = json.dumps({"columns": list(columns), "config": (config or FeatureConfig()).to_dict()}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


__all__ = ["CANDLES", "FeatureConfig", "compute", "feature_hash"]
