"""Models: labels, purged walk-forward CV, the ensemble, the regime classifier, the registry, the leakage audit."""

from core.models.cv import PurgedWalkForward
from core.models.ensemble import EnsembleClassifier
from core.models.labels import direction_labels, triple_barrier_labels
from core.models.regime import RegimeClassifier

__all__ = ["EnsembleClassifier", "PurgedWalkForward", "RegimeClassifier", "direction_labels", "triple_barrier_labels"]
