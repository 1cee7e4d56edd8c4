"""Score comparison without ground truth: two models on the same rows, or a model against its
own reference score distribution (the Rendezvous canary idea).

Speed: deciles, agreement and mean differences use every row (O(n) numpy). KS and PSI use a
random subset of at most ``sample_rows`` rows (the same rows of both arrays): at 50k rows their
sampling error (~0.006 for KS) is far below the alert thresholds, while on 1M rows the sorting
and scipy's KS p-value (computed even when only the statistic is wanted; its cost grows with n)
would cost more than all the other statistics together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rendezvous.monitoring.distances import bin_frequencies, ks_test, psi
from rendezvous.monitoring.profile import DECILES, NumericProfile, ReferenceProfile
from rendezvous.monitoring.thresholds import DECISION_THRESHOLD, ScoreAlertRules


@dataclass
class ScoreComparison:
    """Metrics (all floats), the names of the metrics that broke an alert rule, and details."""

    metrics: dict[str, float]
    alerts: list[str]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def alert(self) -> bool:
        return bool(self.alerts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "alerts": self.alerts,
            "alert": self.alert,
            "details": self.details,
        }


def _subset(n: int, sample_rows: int, seed: int) -> np.ndarray | slice:
    if n <= sample_rows:
        return slice(None)
    return np.random.default_rng(seed).choice(n, sample_rows, replace=False)


def _psi_on_edges(expected: np.ndarray, actual: np.ndarray, edges: np.ndarray) -> float:
    edges = np.unique(edges)
    return psi(bin_frequencies(expected, edges), bin_frequencies(actual, edges))


def compare_scores(
    a: np.ndarray,
    b: np.ndarray,
    threshold: float = DECISION_THRESHOLD,
    rules: ScoreAlertRules | None = None,
    sample_rows: int = 50_000,
    seed: int = 0,
) -> ScoreComparison:
    """Compare scores ``a`` (e.g. live, shadow) with ``b`` (e.g. canary, live) on the SAME rows.

    Metrics: ``quantile_shift`` (largest absolute difference between the deciles), ``ks``
    (KS statistic), ``psi`` (on bins at b's deciles), ``agreement`` (share of rows where both
    make the same decision, positive meaning score >= ``threshold``), ``mean_abs_diff``,
    ``mean_diff`` (a - b) and the two positive rates. Rows where either score is not finite
    are dropped and counted.
    """
    rules = rules or ScoreAlertRules()
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"need two 1-D score arrays of one length, got {a.shape} and {b.shape}")
    finite = np.isfinite(a) & np.isfinite(b)
    n_dropped = int(len(a) - finite.sum())
    if n_dropped:
        a, b = a[finite], b[finite]
    if len(a) == 0:
        raise ValueError("no row has two finite scores")
    deciles_a = np.quantile(a, DECILES)
    deciles_b = np.quantile(b, DECILES)
    pos_a, pos_b = a >= threshold, b >= threshold
    rows = _subset(len(a), sample_rows, seed)
    sub_a, sub_b = a[rows], b[rows]
    metrics = {
        "quantile_shift": float(np.max(np.abs(deciles_a - deciles_b))),
        "ks": ks_test(sub_b, sub_a)[1],
        "psi": _psi_on_edges(sub_b, sub_a, deciles_b),
        "agreement": float(np.mean(pos_a == pos_b)),
        "mean_abs_diff": float(np.mean(np.abs(a - b))),
        "mean_diff": float(a.mean() - b.mean()),
        "positive_rate_a": float(pos_a.mean()),
        "positive_rate_b": float(pos_b.mean()),
    }
    details = {
        "n": len(a),
        "n_dropped": n_dropped,
        "n_used_ks_psi": len(sub_a),
        "threshold": threshold,
        "deciles": [float(p) for p in DECILES],
        "deciles_a": deciles_a.tolist(),
        "deciles_b": deciles_b.tolist(),
    }
    return ScoreComparison(metrics, rules.breached(metrics), details)


def score_drift(
    scores: np.ndarray,
    reference: ReferenceProfile | NumericProfile,
    rules: ScoreAlertRules | None = None,
    sample_rows: int = 50_000,
    seed: int = 0,
) -> ScoreComparison:
    """Compare a model's scores on a batch with its own scores on the reference data.

    Unpaired, so only distribution metrics: ``quantile_shift`` (against the reference deciles
    of all reference rows), ``ks`` and ``psi`` (against the reference score sample, bins at the
    reference deciles) and ``mean_diff``.
    """
    rules = rules or ScoreAlertRules()
    ref = reference.scores if isinstance(reference, ReferenceProfile) else reference
    if ref is None or len(ref.sample) == 0:
        raise ValueError("the reference profile has no scores")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"need a 1-D score array, got shape {scores.shape}")
    finite = np.isfinite(scores)
    n_dropped = int(len(scores) - finite.sum())
    scores = scores[finite]
    if len(scores) == 0:
        raise ValueError("no finite score")
    deciles = np.quantile(scores, DECILES)
    # float32 like the reference sample, so equal scores stay equal.
    sub = scores[_subset(len(scores), sample_rows, seed)].astype(np.float32)
    ref_deciles = ref.deciles
    metrics = {
        "quantile_shift": float(np.max(np.abs(deciles - ref_deciles))),
        "ks": ks_test(ref.sample, sub)[1],
        "psi": _psi_on_edges(ref.sample, sub, ref_deciles),
        "mean_diff": float(scores.mean() - ref.mean),
    }
    details = {
        "n": len(scores),
        "n_dropped": n_dropped,
        "n_used_ks_psi": len(sub),
        "n_reference": ref.n,
        "deciles": [float(p) for p in DECILES],
        "deciles_batch": deciles.tolist(),
        "deciles_reference": ref_deciles.tolist(),
    }
    return ScoreComparison(metrics, rules.breached(metrics), details)
