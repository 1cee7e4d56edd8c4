"""Score comparisons with the monitor's default rules: rare alarms on batches drawn like the
reference, reliable alarms on a shifted one (false-alarm rates measured over many batches).

The pairs are real models of different families on a schema the demo never has (machine
failures: a skewed vibration reading, a temperature, a boolean, a text category), so their
score distributions differ on clean data, as live and canary do in production: a gradient
boosting model with a logistic regression, and a random forest with a depth-2 tree, whose few
distinct scores make a peaked distribution full of ties.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from rendezvous.monitoring import MonitoringConfig, build_profile, compare_scores, score_drift

CONFIG = MonitoringConfig()
SEEDS = range(200)
ROWS = 2_000
BATCHES = 200
BATCH_ROWS = 1_000
MAX_FALSE_ALARMS = 0.01  # per batch, any rule


@pytest.fixture(scope="module")
def reference():
    rng = np.random.default_rng(99)
    frame = pd.DataFrame({"x": rng.normal(size=50_000)})
    return build_profile(frame, ["x"], [], scores=rng.beta(2, 5, 50_000))


def test_live_scores_vs_reference_rarely_alarm_and_catch_a_shift(reference):
    clean = shifted = 0
    for seed in SEEDS:
        scores = np.random.default_rng(seed).beta(2, 5, ROWS)
        clean += score_drift(scores, reference, CONFIG.reference_scores).alert
        shifted += score_drift(np.clip(scores + 0.15, 0, 1), reference, CONFIG.reference_scores).alert
    assert clean / len(SEEDS) <= MAX_FALSE_ALARMS
    assert shifted / len(SEEDS) >= 0.95


def machines(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Machine readings; failures grow with vibration, extreme temperatures and an open door."""
    frame = pd.DataFrame(
        {
            "vibration_mm_s": rng.gamma(2.0, 1.5, n),
            "temperature_c": rng.normal(60, 8, n),
            "door_open": rng.random(n) < 0.3,
            "line": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    logit = (
        0.8 * (frame["vibration_mm_s"] - 3)
        + 0.006 * (frame["temperature_c"] - 60) ** 2
        + 0.7 * frame["door_open"]
        + 0.5 * (frame["line"] == "east")
        - 1.0
    )
    return frame.assign(failed=rng.random(n) < 1 / (1 + np.exp(-logit)))


def encoded(frame: pd.DataFrame) -> pd.DataFrame:
    features = frame.drop(columns="failed")
    return pd.get_dummies(features, columns=["line"], dtype=float).astype(float)


FAMILIES = {
    "boosting": lambda: HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=15),
    "logistic": lambda: LogisticRegression(max_iter=500),
    "forest": lambda: RandomForestClassifier(20, max_depth=6, min_samples_leaf=20, random_state=0),
    "peaked": lambda: DecisionTreeClassifier(max_depth=2),  # four distinct scores
}
PAIRS = [("boosting", "logistic"), ("forest", "peaked"), ("peaked", "forest")]


@pytest.fixture(scope="module")
def scored() -> dict[str, dict[str, np.ndarray]]:
    """Each model's scores on the reference rows, on clean batches, on the first clean
    batches with the vibration reading one unit up (a feature that moves every model's scores)."""
    rng = np.random.default_rng(7)
    train = machines(3_000, rng)
    models = {name: make().fit(encoded(train), train["failed"]) for name, make in FAMILIES.items()}
    clean = encoded(machines(BATCHES * BATCH_ROWS, rng))
    drifted = clean.iloc[: 20 * BATCH_ROWS]
    data = {
        "reference": encoded(machines(10_000, rng)),
        "clean": clean,
        "drifted": drifted.assign(vibration_mm_s=drifted["vibration_mm_s"] + 1.0),
    }
    return {
        part: {name: model.predict_proba(rows)[:, 1] for name, model in models.items()}
        for part, rows in data.items()
    }


def batches(scores: np.ndarray) -> list[np.ndarray]:
    return [scores[i : i + BATCH_ROWS] for i in range(0, len(scores), BATCH_ROWS)]


@pytest.mark.parametrize(("live", "canary"), PAIRS)
def test_two_model_families_on_clean_batches_rarely_alarm(scored, live: str, canary: str) -> None:
    """Every rule of both comparisons at default settings: at most 1% of clean batches alert."""
    reference = scored["reference"]
    profile = build_profile(pd.DataFrame(), [], [], scores=reference[live])
    pair_reference = (reference[live], reference[canary])
    alarms: Counter[str] = Counter()
    batches_alarmed = 0
    for live_scores, canary_scores in zip(
        batches(scored["clean"][live]), batches(scored["clean"][canary]), strict=True
    ):
        pair = compare_scores(
            live_scores, canary_scores, CONFIG.decision_threshold, CONFIG.pair, reference=pair_reference
        )
        own = score_drift(live_scores, profile, CONFIG.reference_scores)
        assert set(pair.limits) == {"quantile_shift", "ks", "psi", "agreement", "mean_abs_diff"}
        assert set(own.limits) == {"quantile_shift", "ks", "psi"}  # every rule was judged
        alarms.update([f"pair {name}" for name in pair.alerts] + [f"own {name}" for name in own.alerts])
        batches_alarmed += pair.alert or own.alert
    assert batches_alarmed / BATCHES <= MAX_FALSE_ALARMS, alarms


@pytest.mark.parametrize(("live", "canary"), PAIRS)
def test_a_shifted_feature_is_caught_on_every_drifted_batch(scored, live: str, canary: str) -> None:
    profile = build_profile(pd.DataFrame(), [], [], scores=scored["reference"][live])
    caught = [
        score_drift(scores, profile, CONFIG.reference_scores).alerts
        for scores in batches(scored["drifted"][live])
    ]
    assert all(caught)


@pytest.mark.parametrize(("live", "canary"), PAIRS)
def test_a_broken_live_model_is_caught_by_the_pair(scored, live: str, canary: str) -> None:
    """The shifted reading reaches only live (e.g. a units change in live's feature pipeline):
    the pair's relation on the same rows changes."""
    reference = (scored["reference"][live], scored["reference"][canary])
    caught = [
        compare_scores(
            live_scores, canary_scores, CONFIG.decision_threshold, CONFIG.pair, reference=reference
        ).alerts
        for live_scores, canary_scores in zip(
            batches(scored["drifted"][live]), batches(scored["clean"][canary])[:20], strict=True
        )
    ]
    assert all(caught)
