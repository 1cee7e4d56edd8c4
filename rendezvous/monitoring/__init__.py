"""Drift and model monitoring statistics: pure functions over DataFrames and arrays.

- ``build_profile``: a compact, JSON-storable reference profile of a model's training data.
- ``feature_drift``: each feature of a batch against that profile.
- ``compare_scores`` / ``score_drift``: score distributions without ground truth.
"""

from rendezvous.monitoring.features import DriftResult, drift_summary, feature_drift
from rendezvous.monitoring.profile import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
)
from rendezvous.monitoring.scores import ScoreComparison, compare_scores, score_drift
from rendezvous.monitoring.thresholds import (
    METHODS,
    DriftConfig,
    MethodChoice,
    ScoreAlertRules,
)

__all__ = [
    "METHODS",
    "CategoricalProfile",
    "DriftConfig",
    "DriftResult",
    "MethodChoice",
    "NumericProfile",
    "ReferenceProfile",
    "ScoreAlertRules",
    "ScoreComparison",
    "build_profile",
    "compare_scores",
    "drift_summary",
    "feature_drift",
    "score_drift",
]
