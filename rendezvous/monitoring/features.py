"""Feature drift: each feature of a batch against the model's reference profile.

Speed on large batches: sample-based numeric statistics (Wasserstein, KS, binned distances) use
a random subset of at most ``DriftConfig.sample_rows`` batch rows, the same rows for every
feature. The reference side is itself a sample of that size, so more batch rows would not make the
comparison sharper; the sampling error of normalised Wasserstein at 50k rows is about 0.01, a
tenth of the alert threshold. Missing shares and category counts use every row, so no unseen
category or missing value is sampled away.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from rendezvous.monitoring.distances import categorical_statistic, numeric_statistic
from rendezvous.monitoring.metrics_store import json_ready
from rendezvous.monitoring.profile import CategoricalProfile, NumericProfile, ReferenceProfile
from rendezvous.monitoring.sketch import BatchSummary, summarize_frame
from rendezvous.monitoring.thresholds import METHODS, DriftConfig, Kind, is_alert

TOP_LISTED = 20  # unseen categories listed in details, most frequent first


@dataclass
class DriftResult:
    """The drift verdict on one feature; ``details["reasons"]`` says which rules alerted."""

    feature: str
    kind: Kind
    method: str
    value: float
    threshold: float
    alert: bool
    n_batch: int  # non-missing batch values
    n_reference: int  # non-missing reference values
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: NaN (no data) becomes None."""
        return json_ready(asdict(self))


def _missing_rule(
    batch_share: float, reference_share: float, config: DriftConfig, reasons: list[str]
) -> None:
    limit = config.max_missing_share_increase
    if limit is not None and batch_share - reference_share > limit:
        reasons.append("missing_share")


def _numeric_drift(
    name: str,
    sampled: np.ndarray,
    n_present: int,
    n_rows: int,
    ref: NumericProfile,
    config: DriftConfig,
) -> DriftResult:
    # Rounded to float32 like the reference sample, so equal values stay equal.
    used = sampled[np.isfinite(sampled)].astype(np.float32)
    method, threshold = config.resolve(name, "numeric", n_present)
    missing_share = 1.0 - n_present / n_rows if n_rows else 0.0
    details: dict[str, Any] = {
        "missing_share": missing_share,
        "reference_missing_share": ref.missing_share,
        "n_used": len(used),
        "n_reference_sample": len(ref.sample),
        "reference_mean": ref.mean,
        "reference_std": ref.std,
    }
    value = math.nan
    if len(used) and len(ref.sample):
        value, extra = numeric_statistic(method, ref.sample, ref.std, used, config.n_bins)
        details.update(extra, batch_mean=float(used.mean()), batch_std=float(used.std()))
    reasons: list[str] = []
    _missing_rule(missing_share, ref.missing_share, config, reasons)
    details["reasons"] = reasons
    return DriftResult(name, "numeric", method, value, threshold, False, n_present, ref.n, details)


def _count_vectors(
    ref: CategoricalProfile, batch: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Aligned (reference, batch) count vectors and the batch's unseen categories.

    Unseen categories get their own slots with reference count 0, or, when the reference was
    truncated, join its "other" slot (they may be rare rather than new).
    """
    unseen = {k: v for k, v in batch.items() if k not in ref.counts}
    ref_counts = [*ref.counts.values()]
    batch_counts = [batch.get(k, 0) for k in ref.counts]
    if ref.truncated:
        ref_counts.append(ref.other)
        batch_counts.append(sum(unseen.values()))
    else:
        ref_counts.extend([0] * len(unseen))
        batch_counts.extend(unseen.values())
    return np.array(ref_counts, dtype=np.float64), np.array(batch_counts, dtype=np.float64), unseen


def _largest_changes(ref: CategoricalProfile, batch: dict[str, int], top: int = 5) -> dict:
    ref_total = max(ref.n, 1)
    batch_total = max(sum(batch.values()), 1)
    shares = {
        k: (ref.counts.get(k, 0) / ref_total, batch.get(k, 0) / batch_total) for k in {*ref.counts, *batch}
    }
    ranked = sorted(shares.items(), key=lambda kv: -abs(kv[1][1] - kv[1][0]))[:top]
    return {k: {"reference": r, "batch": b} for k, (r, b) in ranked}


def _categorical_drift(
    name: str, batch: dict[str, int], n_rows: int, ref: CategoricalProfile, config: DriftConfig
) -> DriftResult:
    n_present = sum(batch.values())
    method, threshold = config.resolve(name, "categorical", n_present)
    ref_counts, batch_counts, unseen = _count_vectors(ref, batch)
    unseen_rows = sum(unseen.values())
    unseen_share = unseen_rows / n_present if n_present else 0.0
    missing_share = 1.0 - n_present / n_rows if n_rows else 0.0
    details: dict[str, Any] = {
        "missing_share": missing_share,
        "reference_missing_share": ref.missing_share,
        "unseen": dict(sorted(unseen.items(), key=lambda kv: -kv[1])[:TOP_LISTED]),
        "unseen_categories": len(unseen),
        "unseen_rows": unseen_rows,
        "unseen_share": unseen_share,
        "reference_truncated": ref.truncated,
    }
    value = math.nan
    if n_present and ref.n:
        value, extra = categorical_statistic(method, ref_counts, batch_counts)
        details.update(extra, largest_changes=_largest_changes(ref, batch))
    reasons: list[str] = []
    limit = config.max_unseen_share
    if limit is not None and not ref.truncated and unseen_share > limit:
        reasons.append("unseen")
    _missing_rule(missing_share, ref.missing_share, config, reasons)
    details["reasons"] = reasons
    return DriftResult(name, "categorical", method, value, threshold, False, n_present, ref.n, details)


def feature_drift(
    batch: pd.DataFrame,
    profile: ReferenceProfile,
    config: DriftConfig | None = None,
    features: list[str] | None = None,
) -> list[DriftResult]:
    """Compare every profiled feature (or ``features``) of ``batch`` with the reference.

    Missing values (NaN, and infinities for numeric features) are dropped before the statistic;
    their share is reported and a jump in it alerts on its own.
    """
    config = config or DriftConfig()
    wanted = profile.features if features is None else features
    unknown = [f for f in wanted if f not in profile.numeric and f not in profile.categorical]
    if unknown:
        raise ValueError(f"features not in the reference profile: {unknown}")
    absent = [f for f in wanted if f not in batch.columns]
    if absent:
        raise ValueError(f"features missing from the batch: {absent}")
    summary = summarize_frame(
        batch,
        [f for f in wanted if f in profile.numeric],
        [f for f in wanted if f in profile.categorical],
        config.sample_rows,
        config.seed,
    )
    return summary_drift(summary, profile, config, wanted)


def summary_drift(
    summary: BatchSummary,
    profile: ReferenceProfile,
    config: DriftConfig | None = None,
    features: list[str] | None = None,
) -> list[DriftResult]:
    """``feature_drift`` on a ``BatchSummary`` (built chunk by chunk for large batches)."""
    config = config or DriftConfig()
    wanted = profile.features if features is None else features
    results = []
    for name in wanted:
        if name in profile.numeric:
            if name not in summary.sample:
                raise ValueError(f"feature {name!r} is not in the batch summary")
            results.append(
                _numeric_drift(
                    name,
                    summary.sample[name],
                    summary.numeric_present[name],
                    summary.n_rows,
                    profile.numeric[name],
                    config,
                )
            )
        elif name in profile.categorical:
            if name not in summary.categories:
                raise ValueError(f"feature {name!r} is not in the batch summary")
            results.append(
                _categorical_drift(
                    name, summary.categories[name], summary.n_rows, profile.categorical[name], config
                )
            )
        else:
            raise ValueError(f"features not in the reference profile: {[name]}")
    if config.p_value_adjustment != "none":
        _adjust_p_values(results, config.p_value_adjustment)
    for result in results:
        _judge(result)
    return results


def _adjust_p_values(results: list[DriftResult], method: str) -> None:
    """Replace the p-values of the batch's tests by adjusted ones (scipy's false discovery
    control), before any is judged; the raw value stays in ``details["p_raw"]``."""
    tested = [r for r in results if METHODS[r.method].p_value and not math.isnan(r.value)]
    if len(tested) < 2:
        return
    adjusted = false_discovery_control([r.value for r in tested], method=method)
    for result, value in zip(tested, adjusted, strict=True):
        result.details.update(p_raw=result.value, p_adjustment=method)
        result.value = float(value)


def _judge(result: DriftResult) -> None:
    """The one place a feature's alert is decided: its statistic, then the rules already noted."""
    if is_alert(result.method, result.value, result.threshold):
        result.details["reasons"].insert(0, "statistic")
    result.alert = bool(result.details["reasons"])


def drift_summary(results: list[DriftResult], drift_share: float = 0.5) -> dict[str, Any]:
    """Dataset-level verdict, as Evidently's: drift when at least ``drift_share`` of the
    features alert. One feature alone will alert by chance now and then on small batches."""
    drifted = [r.feature for r in results if r.alert]
    share = len(drifted) / len(results) if results else 0.0
    return {
        "n_features": len(results),
        "n_drifted": len(drifted),
        "share_drifted": share,
        "dataset_drift": bool(results) and share >= drift_share,
        "drifted": drifted,
    }
