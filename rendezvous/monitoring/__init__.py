"""Drift and model monitoring statistics: pure functions over DataFrames and arrays.

- ``build_profile``: a compact, JSON-storable reference profile of a model's training data.
- ``feature_drift``: each feature of a batch against that profile.
- ``compare_scores`` / ``score_drift``: score distributions without ground truth.
- ``SketchBuilder`` / ``summary_drift``: the same feature drift on a batch read chunk by chunk.

The names are imported on first use (PEP 562): the settings import ``monitoring.config``, and
every command imports the settings, so this package must not pull scipy in by being imported.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_HOMES = {
    "MonitoringConfig": "config",
    "DriftResult": "features",
    "drift_summary": "features",
    "feature_drift": "features",
    "summary_drift": "features",
    "CategoricalProfile": "profile",
    "NumericProfile": "profile",
    "ReferenceProfile": "profile",
    "build_profile": "profile",
    "ScoreComparison": "scores",
    "compare_scores": "scores",
    "score_drift": "scores",
    "BatchSummary": "sketch",
    "SketchBuilder": "sketch",
    "summarize_frame": "sketch",
    "METHODS": "thresholds",
    "DriftConfig": "thresholds",
    "MethodChoice": "thresholds",
    "ScoreAlertRules": "thresholds",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value

