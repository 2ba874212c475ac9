"""Models: labels, purged walk-forward CV, the ensemble, the regime classifier, the registry, the leakage audit.

Names are loaded on first use, so importing the facade (and every CLI command)
does not pay for scikit-learn until a model is actually needed.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EnsembleClassifier": "core.models.ensemble",
    "PurgedWalkForward": "core.models.cv",
    "RegimeClassifier": "core.models.regime",
    "direction_labels": "core.models.labels",
    "triple_barrier_labels": "core.models.labels",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'core.models' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
