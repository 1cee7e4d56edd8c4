"""Drift statistics on known distributions: no alarm on the reference distribution, an alarm on
exactly the feature that changed, and profiles that survive JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from rendezvous.monitoring import (
    DriftConfig,
    MethodChoice,
    ReferenceProfile,
    build_profile,
    compare_scores,
    drift_summary,
    feature_drift,
    score_drift,
)
from rendezvous.monitoring.scores import decile_shift

NUMERIC = ["amount", "income", "term", "rate"]
CATEGORICAL = ["purpose", "region"]
PURPOSES = ["car", "home", "education", "business", "debt", "medical", "other"]
PURPOSE_P = [0.25, 0.2, 0.1, 0.1, 0.2, 0.05, 0.1]
REGIONS = ["north", "south", "east", "west", "central"]
REGION_P = [0.3, 0.25, 0.2, 0.15, 0.1]


def draw(
    n: int,
    seed: int,
    *,
    amount_shift: float = 0.0,
    region_p: list[float] = REGION_P,
    new_purpose_share: float = 0.0,
) -> pd.DataFrame:
    """Continuous, skewed, discrete-int and rounded-float numerics; two string categoricals."""
    rng = np.random.default_rng(seed)
    purpose = rng.choice(PURPOSES, n, p=PURPOSE_P).astype(object)
    purpose[rng.random(n) < new_purpose_share] = "crypto"
    return pd.DataFrame(
        {
            "amount": rng.normal(10_000 + amount_shift, 2_000, n),
            "income": rng.lognormal(10.8, 0.6, n),
            "term": rng.choice([12, 24, 36, 48, 60], n, p=[0.1, 0.2, 0.4, 0.2, 0.1]),
            "rate": np.round(rng.uniform(0.01, 0.4, n), 2),  # few values: many exact ties
            "purpose": pd.array(purpose, dtype="str"),
            "region": pd.array(rng.choice(REGIONS, n, p=region_p), dtype="str"),
        }
    )


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    return build_profile(draw(50_000, seed=10_000), NUMERIC, CATEGORICAL, source="unit test")


def alerted(results) -> set[str]:
    return {r.feature for r in results if r.alert}


# --- no alarm on the reference distribution ------------------------------------------------


def test_false_alarm_rate_on_large_batches(profile):
    """Distances (Wasserstein, Jensen-Shannon) at 0.1 on 2000-row batches: almost never."""
    batches_with_alarm = sum(bool(alerted(feature_drift(draw(2_000, seed=s), profile))) for s in range(200))
    assert batches_with_alarm / 200 <= 0.05


def test_false_alarm_rate_on_small_batches(profile):
    """p-value tests at 0.05 on 300-row batches, adjusted over the batch's features: a clean
    batch alarms on any feature about one time in twenty, not one in four (six raw tests); the
    dataset-level verdict (half the features) almost never."""
    feature_alarms = 0
    batch_alarms = 0
    dataset_alarms = 0
    for seed in range(200):
        results = feature_drift(draw(300, seed=seed), profile)
        assert {r.method for r in results} == {"ks", "chi2"}
        feature_alarms += len(alerted(results))
        batch_alarms += bool(alerted(results))
        dataset_alarms += drift_summary(results)["dataset_drift"]
    assert feature_alarms / (200 * len(NUMERIC + CATEGORICAL)) <= 0.075
    assert batch_alarms / 200 <= 0.08
    assert dataset_alarms / 200 <= 0.05


def test_adjusted_p_values_silence_chance_alarms_but_not_a_real_shift(profile):
    """Seed 5 is a clean batch whose raw p-values alarm on two features; adjusted, on none. A
    shifted amount still alarms, alone; the raw p-values stay in the details."""
    unadjusted = DriftConfig(p_value_adjustment="none")
    assert alerted(feature_drift(draw(300, seed=5), profile, unadjusted)) == {"income", "term"}
    assert alerted(feature_drift(draw(300, seed=5), profile)) == set()
    shifted = feature_drift(draw(300, seed=3, amount_shift=1_500), profile)
    assert alerted(shifted) == {"amount"}
    assert all(r.details["p_adjustment"] == "bh" and r.value >= r.details["p_raw"] for r in shifted)


def test_rounded_values_are_not_drift_after_float32_storage(profile):
    """The sample is stored as float32; 0.07 and float32(0.07) must not look like a shift."""
    config = DriftConfig(numeric=MethodChoice(method="ks"))
    result = next(r for r in feature_drift(draw(20_000, seed=1), profile, config) if r.feature == "rate")
    assert result.value > 0.01


# --- an alarm on exactly the feature that changed ------------------------------------------


# Small batches use p-value tests, which alarm on ~5% of undrifted features by design: there
# "alone" is judged by rates over seeds. Large batches use distances and must be exact.
SEEDS = range(40)
UNCHANGED_LIMIT = {300: 0.15, 5_000: 0.0}


def alert_rates(profile, n: int, **change) -> dict[str, float]:
    counts = dict.fromkeys(NUMERIC + CATEGORICAL, 0)
    for seed in SEEDS:
        for name in alerted(feature_drift(draw(n, seed=seed, **change), profile)):
            counts[name] += 1
    return {name: count / len(SEEDS) for name, count in counts.items()}


def assert_alone(rates: dict[str, float], feature: str, n: int) -> None:
    assert rates.pop(feature) >= 0.95
    assert max(rates.values()) <= UNCHANGED_LIMIT[n], rates


@pytest.mark.parametrize("n", [300, 5_000])
def test_shifted_numeric_feature_alerts_alone(profile, n):
    assert_alone(alert_rates(profile, n, amount_shift=1_000), "amount", n)  # half a std
    amount = feature_drift(draw(n, seed=7, amount_shift=1_000), profile)[0]
    assert amount.method == ("ks" if n < 1000 else "wasserstein")
    assert amount.details["reasons"] == ["statistic"]
    if n >= 1000:
        assert amount.value == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize("n", [300, 5_000])
def test_new_category_alerts_alone_and_is_counted(profile, n):
    assert_alone(alert_rates(profile, n, new_purpose_share=0.05), "purpose", n)
    batch = draw(n, seed=8, new_purpose_share=0.05)
    purpose = next(r for r in feature_drift(batch, profile) if r.feature == "purpose")
    assert "unseen" in purpose.details["reasons"]
    assert purpose.details["unseen"] == {"crypto": int((batch["purpose"] == "crypto").sum())}
    assert purpose.details["unseen_share"] == pytest.approx(0.05, abs=0.03)


def test_rare_new_category_is_reported_without_alarm(profile):
    batch = draw(5_000, seed=9)
    batch.loc[:9, "purpose"] = "crypto"  # 0.2% of rows, under max_unseen_share
    purpose = next(r for r in feature_drift(batch, profile) if r.feature == "purpose")
    assert not purpose.alert
    assert purpose.details["unseen"] == {"crypto": 10}


@pytest.mark.parametrize("n", [300, 5_000])
def test_changed_category_mix_alerts_alone(profile, n):
    reversed_mix = [0.1, 0.15, 0.2, 0.25, 0.3]
    assert_alone(alert_rates(profile, n, region_p=reversed_mix), "region", n)
    region = next(
        r for r in feature_drift(draw(n, seed=11, region_p=reversed_mix), profile) if r.feature == "region"
    )
    assert region.details["reasons"] == ["statistic"]
    assert region.details["unseen_categories"] == 0


def test_missing_values_are_dropped_and_their_jump_alerts(profile):
    batch = draw(5_000, seed=12)
    batch.loc[batch.index[:1_500], "income"] = np.nan
    batch.loc[batch.index[:100], "region"] = None
    results = {r.feature: r for r in feature_drift(batch, profile)}
    income = results["income"]
    assert income.n_batch == 3_500
    assert income.value < 0.1  # the remaining values are undrifted
    assert income.details["missing_share"] == pytest.approx(0.3)
    assert income.details["reasons"] == ["missing_share"]
    region = results["region"]
    assert region.n_batch == 4_900 and not region.alert
    assert region.details["missing_share"] == pytest.approx(0.02)


def test_all_missing_feature_has_no_value_but_alerts(profile):
    batch = draw(2_000, seed=13)
    batch["amount"] = np.nan
    amount = feature_drift(batch, profile, features=["amount"])[0]
    assert math.isnan(amount.value) and amount.alert
    assert json.loads(json.dumps(amount.to_dict(), allow_nan=False))["value"] is None


# --- every method points the right way -----------------------------------------------------


@pytest.mark.parametrize("method", ["wasserstein", "ks", "jensenshannon", "psi", "hellinger"])
def test_numeric_methods_alert_on_shift_only(profile, method):
    config = DriftConfig(numeric=MethodChoice(method=method))
    same = feature_drift(draw(5_000, seed=14), profile, config, features=["amount"])[0]
    shifted = feature_drift(draw(5_000, seed=14, amount_shift=2_000), profile, config, features=["amount"])[0]
    assert same.method == shifted.method == method
    assert not same.alert
    assert shifted.alert


@pytest.mark.parametrize("method", ["jensenshannon", "chi2", "psi", "hellinger", "l_infinity"])
def test_categorical_methods_alert_on_mix_change_only(profile, method):
    config = DriftConfig(categorical=MethodChoice(method=method), max_unseen_share=None)
    same = feature_drift(draw(5_000, seed=15), profile, config, features=["region"])[0]
    changed = feature_drift(
        draw(5_000, seed=15, region_p=[0.1, 0.15, 0.2, 0.25, 0.3]),
        profile,
        config,
        features=["region"],
    )[0]
    assert same.method == changed.method == method
    assert not same.alert
    assert changed.alert


def test_config_overrides_and_validation(profile):
    config = DriftConfig(features={"income": MethodChoice(method="psi", threshold=0.5)})
    results = {r.feature: r for r in feature_drift(draw(5_000, seed=16), profile, config)}
    assert (results["income"].method, results["income"].threshold) == ("psi", 0.5)
    assert (results["amount"].method, results["amount"].threshold) == ("wasserstein", 0.1)
    with pytest.raises(ValidationError):
        MethodChoice(threshold=0.2)  # "auto" is a p-value or a distance: a threshold is ambiguous
    with pytest.raises(ValidationError):
        DriftConfig(categorical=MethodChoice(method="ks"))
    with pytest.raises(ValueError, match="does not apply"):
        feature_drift(
            draw(100, seed=0),
            profile,
            DriftConfig(features={"region": MethodChoice(method="wasserstein")}),
        )
    with pytest.raises(ValueError, match="missing from the batch"):
        feature_drift(draw(100, seed=0).drop(columns=["term"]), profile)


def test_truncated_reference_lumps_rare_categories_without_unseen_alarm():
    reference = draw(20_000, seed=17)
    profile = build_profile(reference, [], ["purpose"], max_categories=3)
    assert len(profile.categorical["purpose"].counts) == 3
    result = feature_drift(draw(5_000, seed=18), profile)[0]
    assert not result.alert
    assert result.details["reference_truncated"]


# --- scores -------------------------------------------------------------------------------


def test_identical_scores_agree_fully():
    scores = np.random.default_rng(0).beta(2, 5, 100_000)
    result = compare_scores(scores, scores.copy())
    assert result.metrics["agreement"] == 1.0
    assert result.metrics["quantile_shift"] == 0.0
    assert result.metrics["ks"] == 0.0
    assert result.metrics["psi"] == 0.0
    assert result.metrics["mean_abs_diff"] == 0.0
    assert not result.alert
    assert result.details["deciles_a"] == result.details["deciles_b"]


def test_agreement_counts_decisions_at_the_threshold():
    a = np.array([0.1, 0.6, 0.7, 0.4, np.nan])
    b = np.array([0.2, 0.4, 0.8, 0.5, 0.9])
    result = compare_scores(a, b, threshold=0.5)
    assert result.metrics["agreement"] == pytest.approx(0.5)  # rows 0 and 2 of the four finite
    assert result.details["n_dropped"] == 1
    assert not result.alerts  # no reference: measured, not judged
    agreeing = np.array([0.1, 0.9] * 500)  # the pair agreed on every reference row
    judged = compare_scores(a, b, threshold=0.5, reference=(agreeing, agreeing))
    assert "agreement" in judged.alerts


def test_decile_shift_is_a_share_of_rows_and_ties_do_not_inflate_it():
    peaked = np.repeat([0.05, 0.1, 0.8], [6_000, 3_000, 1_000])  # a tree's few distinct scores
    rng = np.random.default_rng(5)
    batch = rng.permutation(peaked)[:2_000]
    assert decile_shift(batch, np.sort(peaked)) == 0.0  # every decile is inside a tie
    assert decile_shift(np.full(100, 0.8), np.sort(peaked)) == pytest.approx(0.8)  # 90% below, level 0.1


def test_shifted_scores_alert():
    rng = np.random.default_rng(1)
    b = rng.beta(2, 5, 50_000)
    a = np.clip(b + 0.15, 0, 1)
    result = compare_scores(a, b, reference=(b, b))  # the pair was identical on the reference
    assert {"quantile_shift", "ks", "psi", "mean_abs_diff"} <= set(result.alerts)
    assert result.metrics["quantile_shift"] == pytest.approx(result.metrics["ks"], abs=0.02)
    assert result.metrics["mean_abs_diff"] == pytest.approx(0.15, abs=0.01)


def test_score_drift_against_the_reference_scores():
    rng = np.random.default_rng(2)
    frame = draw(20_000, seed=19)
    profile = build_profile(frame, ["amount"], [], scores=rng.beta(2, 5, 20_000))
    same = score_drift(rng.beta(2, 5, 10_000), profile)
    assert not same.alert and same.metrics["psi"] < 0.05
    drifted = score_drift(rng.beta(4, 4, 10_000), profile)
    assert {"quantile_shift", "ks", "psi"} <= set(drifted.alerts)
    with pytest.raises(ValueError, match="no scores"):
        score_drift(rng.beta(2, 5, 100), build_profile(frame, ["amount"], []))


# --- profile storage ----------------------------------------------------------------------


def test_profile_json_round_trip(profile):
    text = profile.to_json()
    restored = ReferenceProfile.from_json(text)
    assert restored.to_json() == text
    for name, numeric in profile.numeric.items():
        np.testing.assert_array_equal(restored.numeric[name].sample, numeric.sample)
        assert restored.numeric[name].quantiles == numeric.quantiles
    assert restored.categorical["purpose"].counts == profile.categorical["purpose"].counts
    assert (restored.n_rows, restored.source) == (50_000, "unit test")
    batch = draw(3_000, seed=20, amount_shift=500)
    results = [r.to_dict() for r in feature_drift(batch, restored)]
    assert results == [r.to_dict() for r in feature_drift(batch, profile)]
    json.dumps(results, allow_nan=False)  # results are stored as JSON too


def test_profile_samples_are_bounded_sorted_and_summaries_exact():
    frame = draw(30_000, seed=21)
    frame.loc[:99, "amount"] = np.nan
    profile = build_profile(frame, ["amount"], ["region"], sample_size=5_000, seed=3)
    amount = profile.numeric["amount"]
    assert len(amount.sample) == 5_000 and amount.sample.dtype == np.float32
    assert np.all(np.diff(amount.sample) >= 0)
    assert (amount.n, amount.missing) == (29_900, 100)
    assert amount.mean == pytest.approx(frame["amount"].mean())
    assert amount.quantiles["0.5"] == pytest.approx(frame["amount"].median())
    assert sum(profile.categorical["region"].counts.values()) == 30_000


def test_all_missing_reference_column_still_serialises():
    frame = draw(1_000, seed=22)
    frame["amount"] = np.nan
    profile = build_profile(frame, ["amount"], ["region"])
    restored = ReferenceProfile.from_json(profile.to_json())
    assert restored.numeric["amount"].n == 0 and math.isnan(restored.numeric["amount"].mean)
    amount = feature_drift(draw(500, seed=23), restored, features=["amount"])[0]
    assert math.isnan(amount.value) and not amount.alert  # nothing to compare with is not drift
    json.dumps(amount.to_dict(), allow_nan=False)
