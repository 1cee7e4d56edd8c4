"""Score comparison without ground truth: two models on the same rows, or a model against its
own reference score distribution (the Rendezvous canary idea).

Every rule is judged against the reference data (``ScoreAlertRules``): a model's batch scores
against its own reference scores (where every statistic's expected value is about 0), and two
models' scores against the same two models' scores on the same reference rows (where two model
families already differ). The margin grows with the sampling noise at the batch's size ``n``
and the reference's ``m``: with ``s = sqrt(1/n + 1/m)``,

- ``quantile_shift``, ``ks``: ``s/2`` (a KS statistic between two samples of one distribution
  stays below ``1.95 s`` 999 times in 1000; for a pair both models move, but together, and the
  change stays well below that, as tests/unit/test_score_false_alarms.py measures);
- ``psi``: ``(bins - 1) s^2`` (its expected value on two samples of one distribution), plus,
  for a pair, ``s`` times the first-order spread of PSI at the pair's bin shares;
- ``agreement``: the binomial ``sqrt(p (1 - p)) s`` at the reference agreement ``p``;
- ``mean_abs_diff``: ``s`` times the standard deviation of ``|a - b|`` on the reference.

``quantile_shift`` is measured in shares of rows, so ties (peaked scores) cannot inflate it:
for each decile of ``a``, the distance between the decile's level and the share of ``b`` below
the decile's value (no distance when a tie in ``b`` spans the level).

Speed: deciles, agreement and mean differences use every row (O(n) numpy). KS and PSI use a
random subset of at most ``sample_rows`` rows (the same rows of both arrays): at 50k rows their
sampling error (~0.006 for KS) is far below the alert thresholds, while on 1M rows the sorting
and scipy's KS p-value (computed even when only the statistic is wanted; its cost grows with n)
would cost more than all the other statistics together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rendezvous.monitoring.distances import PSI_EPSILON, bin_frequencies, ks_test, psi
from rendezvous.monitoring.profile import DECILES, NumericProfile, ReferenceProfile
from rendezvous.monitoring.thresholds import (
    DECISION_THRESHOLD,
    Direction,
    ScoreAlertRules,
    breached,
)


@dataclass
class ScoreComparison:
    """Metrics (all floats), the names of the metrics that broke an alert rule, each judged
    metric's limit and direction, and details."""

    metrics: dict[str, float]
    alerts: list[str]
    details: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, tuple[float, Direction]] = field(default_factory=dict)

    @property
    def alert(self) -> bool:
        return bool(self.alerts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "alerts": self.alerts,
            "alert": self.alert,
            "limits": self.limits,
            "details": self.details,
        }


def _subset(n: int, sample_rows: int, seed: int) -> np.ndarray | slice:
    if n <= sample_rows:
        return slice(None)
    return np.random.default_rng(seed).choice(n, sample_rows, replace=False)


def _finite(values: np.ndarray) -> tuple[np.ndarray, int]:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"need a 1-D score array, got shape {values.shape}")
    finite = np.isfinite(values)
    return values[finite], int(len(values) - finite.sum())


def _psi_on_edges(expected: np.ndarray, actual: np.ndarray, edges: np.ndarray) -> float:
    edges = np.unique(edges)
    return psi(bin_frequencies(expected, edges), bin_frequencies(actual, edges))


def decile_shift(values: np.ndarray, reference_sorted: np.ndarray) -> float:
    """Largest distance, in shares of rows, between a decile level of ``values`` and the share
    of ``reference_sorted`` below that decile's value; 0 where a tie spans the level."""
    deciles = np.quantile(values, DECILES).astype(reference_sorted.dtype)
    m = max(len(reference_sorted), 1)
    below = np.searchsorted(reference_sorted, deciles, side="left") / m
    up_to = np.searchsorted(reference_sorted, deciles, side="right") / m
    levels = np.asarray(DECILES)
    return float(np.max(np.maximum.reduce([below - levels, levels - up_to, np.zeros(len(levels))])))


def sampling_scale(n: int, m: int) -> float:
    """sqrt(1/n + 1/m): how far two samples of one distribution, n and m values, differ."""
    return math.sqrt(1.0 / max(n, 1) + 1.0 / max(m, 1))


def _psi_bins(reference: np.ndarray) -> np.ndarray:
    return np.unique(np.quantile(reference, DECILES))


def _psi_spread(expected: np.ndarray, actual: np.ndarray) -> float:
    """First-order standard deviation of one row's contribution to PSI(expected, actual) at
    these bin shares, for both sides (the delta method on multinomial shares)."""
    e = np.where(expected == 0, PSI_EPSILON, expected)
    a = np.where(actual == 0, PSI_EPSILON, actual)
    log_ratio = np.log(a / e)
    spread = 0.0
    for share, gradient in ((a, log_ratio + 1 - e / a), (e, -log_ratio + 1 - a / e)):
        mean = float(np.sum(share * gradient))
        spread += math.sqrt(max(float(np.sum(share * gradient**2)) - mean**2, 0.0))
    return spread


def _pair_metrics(
    a: np.ndarray, b: np.ndarray, threshold: float, sample_rows: int, seed: int
) -> tuple[dict[str, float], dict[str, Any]]:
    sorted_b = np.sort(b)
    pos_a, pos_b = a >= threshold, b >= threshold
    rows = _subset(len(a), sample_rows, seed)
    sub_a, sub_b = a[rows], b[rows]
    metrics = {
        "quantile_shift": decile_shift(a, sorted_b),
        "ks": ks_test(sub_b, sub_a)[1],
        "psi": _psi_on_edges(sub_b, sub_a, _psi_bins(sub_b)),
        "agreement": float(np.mean(pos_a == pos_b)),
        "mean_abs_diff": float(np.mean(np.abs(a - b))),
        "mean_diff": float(a.mean() - b.mean()),
        "positive_rate_a": float(pos_a.mean()),
        "positive_rate_b": float(pos_b.mean()),
    }
    details = {
        "n": len(a),
        "n_used_ks_psi": len(sub_a),
        "deciles_a": np.quantile(a, DECILES).tolist(),
        "deciles_b": np.quantile(sorted_b, DECILES).tolist(),
    }
    return metrics, details


def _pair_noise(
    ref_a: np.ndarray, ref_b: np.ndarray, reference: dict[str, float], n: int, n_sub: int
) -> dict[str, float]:
    """Each pair metric's sampling noise for a batch of ``n`` rows (``n_sub`` of them for KS
    and PSI) against the reference rows."""
    m = len(ref_a)
    s, s_sub = sampling_scale(n, m), sampling_scale(n_sub, m)
    edges = _psi_bins(ref_b)
    expected, actual = bin_frequencies(ref_b, edges), bin_frequencies(ref_a, edges)
    p = reference["agreement"]
    return {
        "quantile_shift": s / 2,
        "ks": s_sub / 2,
        "psi": s_sub * _psi_spread(expected, actual) + len(edges) * s_sub**2,
        "agreement": math.sqrt(p * (1 - p)) * s,
        "mean_abs_diff": float(np.std(np.abs(ref_a - ref_b))) * s,
    }


def _paired(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"need two 1-D score arrays of one length, got {a.shape} and {b.shape}")
    finite = np.isfinite(a) & np.isfinite(b)
    return a[finite], b[finite], int(len(a) - finite.sum())


def compare_scores(
    a: np.ndarray,
    b: np.ndarray,
    threshold: float = DECISION_THRESHOLD,
    rules: ScoreAlertRules | None = None,
    reference: tuple[np.ndarray, np.ndarray] | None = None,
    sample_rows: int = 50_000,
    seed: int = 0,
) -> ScoreComparison:
    """Compare scores ``a`` (e.g. live, shadow) with ``b`` (e.g. canary, live) on the SAME rows,
    judged against the same two models' scores on the same reference rows, ``reference``.

    Metrics: ``quantile_shift`` (see ``decile_shift``), ``ks`` (KS statistic), ``psi`` (on bins
    at b's deciles), ``agreement`` (share of rows where both make the same decision, positive
    meaning score >= ``threshold``), ``mean_abs_diff``, ``mean_diff`` (a - b) and the two
    positive rates. Rows where either score is not finite are dropped and counted. Without
    ``reference`` the metrics are measured and nothing is judged.
    """
    rules = rules or ScoreAlertRules()
    a, b, n_dropped = _paired(a, b)
    if len(a) == 0:
        raise ValueError("no row has two finite scores")
    metrics, details = _pair_metrics(a, b, threshold, sample_rows, seed)
    details.update({"n_dropped": n_dropped, "threshold": threshold, "deciles": list(DECILES)})
    limits: dict[str, tuple[float, Direction]] = {}
    if reference is not None:
        ref_a, ref_b, _ = _paired(*reference)
        if len(ref_a) == 0:
            raise ValueError("the pair's reference has no row with two finite scores")
        baseline, _ = _pair_metrics(ref_a, ref_b, threshold, sample_rows, seed)
        limits = rules.limits(baseline, _pair_noise(ref_a, ref_b, baseline, len(a), details["n_used_ks_psi"]))
        details.update({"n_reference": len(ref_a), "reference": baseline})
    return ScoreComparison(metrics, breached(metrics, limits), details, limits)


def score_drift(
    scores: np.ndarray,
    reference: ReferenceProfile | NumericProfile,
    rules: ScoreAlertRules | None = None,
    sample_rows: int = 50_000,
    seed: int = 0,
) -> ScoreComparison:
    """Compare a model's scores on a batch with its own scores on the reference data.

    Unpaired, so only distribution metrics, each expected near 0 on a clean batch:
    ``quantile_shift`` (see ``decile_shift``), ``ks`` and ``psi`` (against the reference score
    sample, bins at the reference deciles) and ``mean_diff`` (reported, not judged).
    """
    rules = rules or ScoreAlertRules()
    ref = reference.scores if isinstance(reference, ReferenceProfile) else reference
    if ref is None or len(ref.sample) == 0:
        raise ValueError("the reference profile has no scores")
    scores, n_dropped = _finite(scores)
    if len(scores) == 0:
        raise ValueError("no finite score")
    # float32 like the reference sample, so equal scores stay equal.
    single = scores.astype(np.float32)
    sub = single[_subset(len(scores), sample_rows, seed)]
    edges = np.unique(ref.deciles.astype(np.float32))
    metrics = {
        "quantile_shift": decile_shift(single, ref.sample),
        "ks": ks_test(ref.sample, sub)[1],
        "psi": _psi_on_edges(ref.sample, sub, edges),
        "mean_diff": float(scores.mean() - ref.mean),
    }
    s = sampling_scale(len(sub), len(ref.sample))
    noise = {"quantile_shift": s / 2, "ks": s / 2, "psi": len(edges) * s**2}
    baseline = dict.fromkeys(noise, 0.0)
    limits = rules.limits(baseline, noise)
    details = {
        "n": len(scores),
        "n_dropped": n_dropped,
        "n_used_ks_psi": len(sub),
        "n_reference": ref.n,
        "deciles": list(DECILES),
        "deciles_batch": np.quantile(scores, DECILES).tolist(),
        "deciles_reference": ref.deciles.tolist(),
        "reference": baseline,
    }
    return ScoreComparison(metrics, breached(metrics, limits), details, limits)
