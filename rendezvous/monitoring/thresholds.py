"""What counts as drift: the methods, their default thresholds, and the alert rules.

Defaults follow the monitoring tools people already read (Evidently, NannyML, Vertex AI):
normalised Wasserstein and Jensen-Shannon at 0.1 on large batches, KS and chi-squared p-values
at 0.05 on small ones (below 1000 rows a distance is too noisy to threshold), PSI at 0.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Kind = Literal["numeric", "categorical"]
Method = Literal["wasserstein", "ks", "jensenshannon", "chi2", "psi", "hellinger", "l_infinity"]
MethodOrAuto = Literal["auto", "wasserstein", "ks", "jensenshannon", "chi2", "psi", "hellinger", "l_infinity"]

BOTH: frozenset[str] = frozenset({"numeric", "categorical"})


@dataclass(frozen=True)
class MethodInfo:
    """A drift method's default threshold and which way it points."""

    default_threshold: float
    p_value: bool  # True: the value is a p-value and a SMALL value alerts
    kinds: frozenset[str]


METHODS: dict[str, MethodInfo] = {
    "wasserstein": MethodInfo(0.1, p_value=False, kinds=frozenset({"numeric"})),
    "ks": MethodInfo(0.05, p_value=True, kinds=frozenset({"numeric"})),
    "jensenshannon": MethodInfo(0.1, p_value=False, kinds=BOTH),
    "chi2": MethodInfo(0.05, p_value=True, kinds=frozenset({"categorical"})),
    "psi": MethodInfo(0.2, p_value=False, kinds=BOTH),
    "hellinger": MethodInfo(0.1, p_value=False, kinds=BOTH),
    "l_infinity": MethodInfo(0.1, p_value=False, kinds=BOTH),
}

# "auto": (method for large batches, method for small batches), as Evidently switches.
AUTO: dict[str, tuple[str, str]] = {
    "numeric": ("wasserstein", "ks"),
    "categorical": ("jensenshannon", "chi2"),
}


def is_alert(method: str, value: float, threshold: float) -> bool:
    """A p-value alerts below its threshold, a distance above it; NaN (no data) never does."""
    if math.isnan(value):
        return False
    return value < threshold if METHODS[method].p_value else value > threshold


class MethodChoice(BaseModel):
    """A method and optionally its threshold (None: the method's default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: MethodOrAuto = "auto"
    threshold: float | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _threshold_needs_method(self) -> MethodChoice:
        # "auto" switches between a p-value and a distance, so one number cannot mean both.
        if self.method == "auto" and self.threshold is not None:
            raise ValueError("a threshold needs an explicit method, not 'auto'")
        return self


class DriftConfig(BaseModel):
    """Method and threshold per feature kind, per-feature overrides, and the extra alert rules."""

    model_config = ConfigDict(extra="forbid")

    numeric: MethodChoice = MethodChoice()
    categorical: MethodChoice = MethodChoice()
    features: dict[str, MethodChoice] = Field(default_factory=dict)
    small_batch_rows: int = Field(
        default=1000, gt=0, description="Below this many non-missing values 'auto' uses p-values."
    )
    sample_rows: int = Field(
        default=50_000,
        gt=0,
        description="Rows of a larger batch used for sample-based numeric statistics.",
    )
    n_bins: int = Field(default=10, ge=2, description="Reference-quantile bins for binned methods.")
    p_value_adjustment: Literal["bh", "by", "none"] = Field(
        default="bh",
        description="Adjust a batch's p-values over its features (Benjamini-Hochberg, -Yekutieli) "
        "before the threshold: 14 tests at 0.05 would alarm on half of all clean small batches.",
    )
    max_unseen_share: float | None = Field(
        default=0.01, ge=0.0, le=1.0, description="Alert when more rows than this are unseen."
    )
    max_missing_share_increase: float | None = Field(
        default=0.1, ge=0.0, le=1.0, description="Alert when the missing share grows by more."
    )
    seed: int = 0

    @model_validator(mode="after")
    def _kinds_match(self) -> DriftConfig:
        for kind in ("numeric", "categorical"):
            method = getattr(self, kind).method
            if method != "auto" and kind not in METHODS[method].kinds:
                raise ValueError(f"method {method!r} does not apply to {kind} features")
        return self

    def resolve(self, feature: str, kind: Kind, n_batch: int) -> tuple[str, float]:
        """The (method, threshold) for one feature with ``n_batch`` non-missing values."""
        choice = self.features.get(feature) or getattr(self, kind)
        method = choice.method
        if method == "auto":
            large, small = AUTO[kind]
            method = small if n_batch < self.small_batch_rows else large
        if kind not in METHODS[method].kinds:
            raise ValueError(f"method {method!r} does not apply to {kind} feature {feature!r}")
        if choice.threshold is None:
            return method, METHODS[method].default_threshold
        return method, choice.threshold


DECISION_THRESHOLD = 0.5
"""A probability score at or above this is a positive decision (the agreement metric)."""

Direction = Literal["above", "below"]


class ScoreAlertRules(BaseModel):
    """Score alert rules, relative to what the comparison gives on the reference data.

    A statistic alerts when it moves away from its reference value, in the direction that
    means trouble, by more than its tolerance plus ``noise_z`` times its sampling noise at the
    batch's and the reference's sizes (``scores.noise``). The reference value is 0 for a model
    against its own reference scores, and the pair's own value on the reference rows for two
    models (two model families disagree by design: only a change of that is news). None
    disables a rule. The one place the score-alert limits are decided: the monitor, its stored
    rows and the report read them through ``limits``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    noise_z: float = Field(default=4.0, ge=0.0)
    max_quantile_shift: float | None = Field(default=0.05, ge=0.0)
    max_ks: float | None = Field(default=0.05, ge=0.0)
    max_psi: float | None = Field(default=0.1, ge=0.0)
    max_agreement_drop: float | None = Field(default=0.03, ge=0.0)
    max_mean_abs_diff: float | None = Field(default=0.03, ge=0.0)

    def tolerances(self) -> dict[str, tuple[float | None, Direction]]:
        """Each score metric's tolerance and the side of its reference value that alerts."""
        return {
            "quantile_shift": (self.max_quantile_shift, "above"),
            "ks": (self.max_ks, "above"),
            "psi": (self.max_psi, "above"),
            "mean_abs_diff": (self.max_mean_abs_diff, "above"),
            "agreement": (self.max_agreement_drop, "below"),
        }

    def limits(
        self, reference: dict[str, float], noise: dict[str, float]
    ) -> dict[str, tuple[float, Direction]]:
        """The limit of each judged metric: its reference value moved by tolerance + z x noise.

        Metrics without a reference value or a tolerance are not judged (left out)."""
        limits: dict[str, tuple[float, Direction]] = {}
        for name, (tolerance, direction) in self.tolerances().items():
            if tolerance is None or name not in reference or name not in noise:
                continue
            margin = tolerance + self.noise_z * noise[name]
            base = reference[name]
            limits[name] = (base + margin if direction == "above" else base - margin, direction)
        return limits


def breached(metrics: dict[str, float], limits: dict[str, tuple[float, Direction]]) -> list[str]:
    """Names of the metrics beyond their limit (NaN never alerts)."""
    return [
        name
        for name, (limit, direction) in limits.items()
        if name in metrics and (metrics[name] > limit if direction == "above" else metrics[name] < limit)
    ]
