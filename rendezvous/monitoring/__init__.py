"""Drift and model monitoring statistics: pure functions over DataFrames and arrays.

- ``build_profile``: a compact, JSON-storable reference profile of a model's training data.
- ``feature_drift``: each feature of a batch against that profile.
- ``compare_scores`` / ``score_drift``: score distributions without ground truth.
- ``SketchBuilder`` / ``summary_drift``: the same feature drift on a batch read chunk by chunk.
"""

from rendezvous.monitoring.config import MonitoringConfig
from rendezvous.monitoring.features import DriftResult, drift_summary, feature_drift, summary_drift
from rendezvous.monitoring.profile import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
)
from rendezvous.monitoring.scores import ScoreComparison, compare_scores, score_drift
from rendezvous.monitoring.sketch import BatchSummary, SketchBuilder, summarize_frame
from rendezvous.monitoring.thresholds import (
    METHODS,
    DriftConfig,
    MethodChoice,
    ScoreAlertRules,
)

__all__ = [
    "METHODS",
    "BatchSummary",
    "CategoricalProfile",
    "DriftConfig",
    "DriftResult",
    "MethodChoice",
    "MonitoringConfig",
    "NumericProfile",
    "ReferenceProfile",
    "ScoreAlertRules",
    "ScoreComparison",
    "SketchBuilder",
    "build_profile",
    "compare_scores",
    "drift_summary",
    "feature_drift",
    "score_drift",
    "summarize_frame",
    "summary_drift",
]
