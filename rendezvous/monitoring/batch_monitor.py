"""The monitor step of one batch, after its bins and before its commit.

It reads back what the bins wrote (logged rows chunk by chunk, scores for a bounded sample of
rows), compares:
- each feature with the live model's reference profile (``summary_drift``),
- the live model's scores with its own reference scores (``score_drift``),
- live with canary, and each shadow candidate with live, on the same rows (``compare_scores``),
  against the same two models on the live model's reference rows (``pair_reference``),
and writes one ``metrics`` row per statistic. Models without a profile make progress towards
one from their first batches (see ``reference``).

Memory: one logged chunk plus ``DriftConfig.sample_rows`` sampled rows, whatever the batch
size. Exactness: category counts, missing shares and row counts use every row; the numeric
statistics use the sample (50k rows by default), the score comparisons the scores of its first
``score_sample_rows`` rows (20k by default: the sampling error of agreement is then about
0.0015, of a decile about 0.005).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rendezvous.monitoring.batch_rows import batch_scores, log_columns, log_paths, read_log_chunks
from rendezvous.monitoring.config import MonitoringConfig
from rendezvous.monitoring.features import DriftResult, drift_summary, summary_drift
from rendezvous.monitoring.metrics_store import replace_batch_metrics
from rendezvous.monitoring.overview import describe_profile
from rendezvous.monitoring.pair_reference import pair_reference
from rendezvous.monitoring.profile import ReferenceProfile
from rendezvous.monitoring.reference import (
    FirstBatches,
    build_first_batches_profile,
    feature_kinds,
    first_batches_progress,
    load_profile,
)
from rendezvous.monitoring.scores import ScoreComparison, compare_scores, score_drift
from rendezvous.monitoring.sketch import BatchSummary, SketchBuilder
from rendezvous.monitoring.thresholds import METHODS
from rendezvous.registry import ModelRecord
from rendezvous.scorelog.files import AttemptScores
from rendezvous.services import Services

PAIR_METRICS = ("quantile_shift", "ks", "psi", "agreement", "mean_abs_diff", "mean_diff")
REFERENCE_METRICS = ("quantile_shift", "ks", "psi", "mean_diff")
HISTOGRAM_BINS = 20


@dataclass
class MonitorResult:
    """What the monitor found in one batch: the metric rows it wrote, and context for people."""

    batch_id: str
    source: str
    live_version: str
    canary_version: str | None
    n_rows: int
    n_sample: int
    profile: str  # describes the live model's reference (or why there is none)
    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["alert"]]

    @property
    def drifted_features(self) -> list[str]:
        return [r["feature"] for r in self.alerts if r["feature"] is not None]

    @property
    def alert(self) -> bool:
        return bool(self.alerts)


def _histogram(a: np.ndarray, b: np.ndarray) -> dict[str, list[float]]:
    """Shares of both score arrays in common bins ([0, 1] for probabilities)."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    both = np.concatenate([a, b])
    low, high = (0.0, 1.0) if both.min() >= 0 and both.max() <= 1 else (both.min(), both.max())
    edges = np.linspace(low, high if high > low else low + 1.0, HISTOGRAM_BINS + 1)
    share_a = np.histogram(a, edges)[0] / max(len(a), 1)
    share_b = np.histogram(b, edges)[0] / max(len(b), 1)
    return {"edges": edges.tolist(), "a": share_a.tolist(), "b": share_b.tolist()}


def score_rows(
    comparison: ScoreComparison,
    metric_names: tuple[str, ...],
    role: str,
    version: str,
    label: str,
    histogram: dict[str, list[float]],
    reference_note: str,
) -> list[dict[str, Any]]:
    """One row per metric of a score comparison, with the limit it was judged by (None: not
    judged), plus an ``n_rows`` row carrying the details."""
    reference = comparison.details.get("reference", {})
    rows = []
    for name in metric_names:
        limit, direction = comparison.limits.get(name, (None, "above"))  # mean_diff: reported
        rows.append(
            {
                "role": role,
                "model_version": version,
                "metric": name,
                "feature": None,
                "value": comparison.metrics[name],
                "threshold": limit,
                "alert": name in comparison.alerts,
                "detail": {
                    "comparison": label,
                    "direction": direction,
                    "reference_value": reference.get(name),
                },
            }
        )
    rows.append(
        {
            "role": role,
            "model_version": version,
            "metric": "n_rows",
            "feature": None,
            "value": float(comparison.details["n"]),
            "threshold": None,
            "alert": False,
            "detail": {
                "comparison": label,
                "reference_note": reference_note,
                **comparison.details,
                **{k: v for k, v in comparison.metrics.items() if k.startswith("positive_rate")},
                "histogram": histogram,
            },
        }
    )
    return rows


def feature_rows(results: list[DriftResult], version: str) -> list[dict[str, Any]]:
    return [
        {
            "role": "live",
            "model_version": version,
            "metric": r.method,
            "feature": r.feature,
            "value": r.value,
            "threshold": r.threshold,
            "alert": r.alert,
            "detail": {
                "comparison": "feature vs reference",
                "kind": r.kind,
                "direction": "below" if METHODS[r.method].p_value else "above",
                "n_batch": r.n_batch,
                "n_reference": r.n_reference,
                **r.details,
            },
        }
        for r in results
    ]


def _summarize(
    paths: list[str],
    features: list[str],
    kinds: tuple[list[str], list[str]] | None,
    config: MonitoringConfig,
    id_column: str,
) -> tuple[BatchSummary, tuple[list[str], list[str]]]:
    chunks = read_log_chunks(paths, [id_column, *features])
    builder: SketchBuilder | None = None
    for chunk in chunks:
        if builder is None:
            kinds = kinds or feature_kinds(chunk, [f for f in features if f in chunk.columns])
            builder = SketchBuilder(
                kinds[0], kinds[1], config.features.sample_rows, config.features.seed, id_column
            )
        builder.add(chunk)
    if builder is None:
        raise ValueError("the batch logged no rows")
    return builder.summary(), kinds  # type: ignore[return-value]


def _profile_progress(
    services: Services, record: ModelRecord, role: str, staged: AttemptScores, n_rows: int
) -> tuple[list[dict[str, Any]], ReferenceProfile | None]:
    """Count this batch towards a profile-less model's first-batches profile; build it when due."""
    config = services.settings.monitoring
    batch_id = staged.batch_id
    progress: FirstBatches = first_batches_progress(
        services.store, record.version, batch_id, n_rows, config.first_batches_rows
    )
    rows: list[dict[str, Any]] = [
        {
            "role": role,
            "model_version": record.version,
            "metric": "profile_rows",
            "value": float(n_rows),
            "threshold": float(config.first_batches_rows),
            "detail": {"rows_seen": progress.rows_seen, "rows_wanted": progress.rows_wanted},
        }
    ]
    if not progress.ready:
        return rows, None
    profile = build_first_batches_profile(
        services.store,
        services.registry,
        record,
        progress,
        services.settings.id_column,
        config.features.seed,
    )
    rows.append(
        {
            "role": role,
            "model_version": record.version,
            "metric": "profile_built",
            "value": float(profile.n_rows),
            "detail": {"source": profile.source, "batches": progress.batch_ids},
        }
    )
    return rows, profile


def monitor_batch(
    services: Services, job: Any, committed: Callable[[], bool] | None = None
) -> MonitorResult | None:
    """Compare the batch's features and scores; write and return the metric rows.

    ``job`` is the pipeline's BatchJob (batch id, source name, the pinned live/canary/shadows).
    ``committed``: with the batch's commit still running, waits for it and says whether it went
    through. The batch's own files are measured meanwhile; nothing is written (metrics, a first
    batches' profile) unless it did.
    Returns None when monitoring is disabled, the batch logged no rows or did not commit.
    """
    started = time.perf_counter()
    settings = services.settings
    config = settings.monitoring
    if not config.enabled:
        return None
    with services.store.begin() as conn:
        paths = log_paths(conn, job.batch_id)
    if not paths:
        return None
    # The profile may have been built after the batch was claimed: read the record again.
    live = services.registry.get(job.live.version)
    profile = load_profile(live)
    features = profile.features if profile else list(live.feature_names)
    kinds = (list(profile.numeric), list(profile.categorical)) if profile else None
    available = set(log_columns(paths[0]))
    missing = [f for f in features if f not in available]
    features = [f for f in features if f in available]
    if kinds:
        kinds = ([f for f in kinds[0] if f in available], [f for f in kinds[1] if f in available])
    summary, _ = _summarize(paths, features, kinds, config, settings.id_column)
    # The sketch's sample is uniform and in no particular order: its first rows are one too.
    ids = summary.sample_ids[: config.score_sample_rows]
    every_row = summary.n_rows <= config.score_sample_rows
    scores = batch_scores(job.outputs(services).scores, None if every_row else ids)
    scores = scores.reindex(pd.Index(ids, dtype="str"))

    rows: list[dict[str, Any]] = []
    note = describe_profile(live.profile)
    if profile is not None:
        results = summary_drift(summary, profile, config.features, features)
        rows += feature_rows(results, live.version)
        verdict = drift_summary(results, config.drift_share)
        rows.append(
            {
                "role": "live",
                "model_version": live.version,
                "metric": "drift_share",
                "value": verdict["share_drifted"],
                "threshold": config.drift_share,
                "alert": verdict["dataset_drift"],
                "detail": {
                    "comparison": "feature vs reference",
                    **verdict,
                    "absent_features": missing,
                    "profile": note,
                },
            }
        )
        live_scores = scores[live.version].to_numpy() if live.version in scores else None
        if profile.scores is not None and live_scores is not None:
            comparison = score_drift(live_scores, profile, config.reference_scores, seed=config.features.seed)
            histogram = _histogram(live_scores, profile.scores.sample.astype(np.float64))
            rows += score_rows(
                comparison, REFERENCE_METRICS, "live", live.version, "live vs reference", histogram, note
            )

    pairs: list[tuple[str, ModelRecord, ModelRecord, str]] = []
    if job.canary is not None:
        pairs.append(("canary", job.live, job.canary, "live vs canary"))
    pairs += [("shadow", shadow, job.live, f"{shadow.version} vs live") for shadow in job.shadows]
    for role, a, b, label in pairs:
        if a.version not in scores or b.version not in scores:
            continue
        a_scores, b_scores = scores[a.version].to_numpy(), scores[b.version].to_numpy()
        reference = pair_reference(services.registry, live, a, b, settings.id_column)
        comparison = compare_scores(
            a_scores,
            b_scores,
            threshold=config.decision_threshold,
            rules=config.pair,
            reference=reference.scores,
            seed=config.features.seed,
        )
        version = b.version if role == "canary" else a.version
        histogram = _histogram(a_scores, b_scores)
        rows += score_rows(comparison, PAIR_METRICS, role, version, label, histogram, reference.note)

    if committed is not None and not committed():
        return None
    for role, record in job.scorers():
        current = live if record.version == live.version else services.registry.get(record.version)
        if current.profile is not None:
            continue
        progress_rows, built = _profile_progress(
            services, current, role, job.outputs(services).scores, summary.n_rows
        )
        rows += progress_rows
        if built is not None and record.version == live.version:
            note = f"{describe_profile(built.to_dict())}: built from this batch, drift from the next"
        elif record.version == live.version:
            seen = progress_rows[0]["detail"]["rows_seen"]
            note = (
                f"none yet: from the first batches, {seen:,} of "
                f"{config.first_batches_rows:,} rows seen; feature drift starts after"
            )

    # what the live model was compared with, for `drift` to say (a fallback sample, which batches)
    rows.append(
        {"role": "live", "model_version": live.version, "metric": "reference", "detail": {"profile": note}}
    )
    result = MonitorResult(
        batch_id=job.batch_id,
        source=job.source_name,
        live_version=live.version,
        canary_version=job.canary.version if job.canary else None,
        n_rows=summary.n_rows,
        n_sample=summary.n_sample,
        profile=note,
        rows=[{"feature": None, "threshold": None, "alert": False, **row} for row in rows],
    )
    with services.store.begin() as conn:
        replace_batch_metrics(conn, job.batch_id, result.rows)
    result.seconds = time.perf_counter() - started
    return result


def record_failure(services: Services, job: Any, error: str) -> None:
    """Monitoring failed: say so in the metrics (the batch itself still commits)."""
    with services.store.begin() as conn:
        replace_batch_metrics(
            conn,
            job.batch_id,
            [
                {
                    "role": "live",
                    "model_version": job.live.version,
                    "metric": "monitor_error",
                    "detail": {"error": error},
                }
            ],
        )
