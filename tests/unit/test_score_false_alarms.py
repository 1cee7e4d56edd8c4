"""Score comparisons with the monitor's default rules: rare alarms on batches drawn like the
reference, reliable alarms on a shifted one (false-alarm rates measured over many seeds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rendezvous.monitoring import MonitoringConfig, build_profile, compare_scores, score_drift

CONFIG = MonitoringConfig()
SEEDS = range(200)
ROWS = 2_000


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
    assert clean / len(SEEDS) <= 0.02
    assert shifted / len(SEEDS) >= 0.95


def test_live_vs_canary_rarely_alarm_and_catch_a_broken_live_model():
    """The canary is another model: its scores differ from live's row by row (noise here)."""
    clean = broken = 0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        canary = rng.beta(2, 5, ROWS)
        live = np.clip(canary + rng.normal(0, 0.05, ROWS), 0, 1)
        clean += compare_scores(live, canary, CONFIG.decision_threshold, CONFIG.pair).alert
        drifted = np.clip(live + 0.2, 0, 1)  # e.g. a feature pipeline change only live sees
        broken += compare_scores(drifted, canary, CONFIG.decision_threshold, CONFIG.pair).alert
    assert clean / len(SEEDS) <= 0.02
    assert broken / len(SEEDS) >= 0.95
