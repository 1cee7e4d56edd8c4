"""Monitoring settings: one object inside ``Settings.monitoring`` (env ``RENDEZVOUS_MONITORING`` as
JSON, or a ``[monitoring]`` table in rendezvous.toml).

Score rules are judged against the reference data, not against absolute limits: live and canary
are different model families by design (the canary is there to disagree when the world moves),
so their score distributions differ even on clean data, by an amount that depends on the pair.
The pair rules alert on a change of that relation, measured on the same reference rows; a
model's scores against its own reference scores alert on a change from 0 (``ScoreAlertRules``).

Score comparisons read back the scores of a random sample of ``score_sample_rows`` rows (every
row of a smaller batch): looking scores up by id is the monitor's largest cost on big batches,
and at 20k rows the sampling error of agreement is about 0.0015, of KS about 0.01.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rendezvous.monitoring.thresholds import (
    DECISION_THRESHOLD,
    DriftConfig,
    ScoreAlertRules,
)


class MonitoringConfig(BaseModel):
    """Methods, thresholds and alert rules of the per-batch monitor."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    features: DriftConfig = Field(
        default_factory=DriftConfig, description="Each feature against the live model's reference."
    )
    pair: ScoreAlertRules = Field(
        default_factory=ScoreAlertRules,
        description="Live vs canary, and each shadow candidate vs live, on the same rows, against "
        "the same two models on the live model's reference rows.",
    )
    reference_scores: ScoreAlertRules = Field(
        default_factory=ScoreAlertRules,
        description="The live model's scores against its own scores on its reference data.",
    )
    score_sample_rows: int = Field(
        default=20_000,
        gt=0,
        description="Rows of a larger batch whose scores are read back for the score comparisons.",
    )
    decision_threshold: float = Field(
        default=DECISION_THRESHOLD,
        description="A score at or above this is a positive decision (agreement).",
    )
    drift_share: float = Field(
        default=0.5, gt=0.0, le=1.0, description="Dataset drift when this share of features alert."
    )
    first_batches_rows: int = Field(
        default=10_000,
        gt=0,
        description="A model registered without a profile gets one from its first this-many rows.",
    )
    report_days: int = Field(default=7, gt=0, description="Days the scheduled drift report covers.")
