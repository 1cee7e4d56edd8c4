"""The live/canary pair's relation on the reference: both models scored once on the live model's
reference rows, kept in its profile, read back for every later batch."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from rendezvous.monitoring.pair_reference import pair_key, pair_reference
from rendezvous.monitoring.profile import decode_rows
from rendezvous.monitoring.reference import profile_for_model
from rendezvous.registry import Registry
from rendezvous.store import Store


def wells(n: int, seed: int) -> pd.DataFrame:
    """Integer ids, a UTC timestamp, a boolean and a text column the live model does not use."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "well_id": np.arange(10_000, 10_000 + n),
            "read_at": pd.date_range("2026-03-01", periods=n, freq="min", tz="UTC"),
            "pressure_kpa": rng.normal(300, 40, n),
            "valve_open": rng.random(n) < 0.4,
            "basin": rng.choice(["permian", "bakken"], n),
        }
    )
    leak = (frame["pressure_kpa"] > 320) ^ (rng.random(n) < 0.1)
    return frame.assign(leak=np.where(leak, "yes", "no"))


def fitted(tmp_path: Path, name: str, model, columns: list[str], train: pd.DataFrame) -> Path:
    path = tmp_path / f"{name}.joblib"
    joblib.dump(model.fit(train[columns], train["leak"]), path)
    return path


@pytest.fixture
def pair(database_url: str, tmp_path: Path):
    registry = Registry(Store(database_url), str(tmp_path / "models"))
    train, reference = wells(600, 1), wells(300, 2)
    live_model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["valve_open"]), remainder="passthrough"),
        DecisionTreeClassifier(max_depth=3, random_state=0),
    )
    canary_model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["basin"]), remainder="passthrough"),
        DecisionTreeClassifier(max_depth=2, random_state=0),
    )
    live_file = fitted(tmp_path, "live", live_model, ["pressure_kpa", "valve_open"], train)
    canary_file = fitted(tmp_path, "canary", canary_model, ["pressure_kpa", "basin"], train)
    live = registry.register(live_file, "live", version="wells-live", trust_pickle=True)
    live_scores = registry.load(live).predict_proba(reference[live.feature_names])[:, 1]
    profile = profile_for_model(reference, live.feature_names, live_scores, source="reference file")
    registry.set_profile(live.version, profile.to_dict())
    canary = registry.register(canary_file, "canary", version="wells-canary", trust_pickle=True)
    return registry, registry.get(live.version), canary, reference


def test_the_pair_is_scored_once_on_the_reference_rows_and_kept(pair, monkeypatch) -> None:
    registry, live, canary, reference = pair
    first = pair_reference(registry, live, live, canary, "well_id")
    assert first.scores is not None and "300 rows" in first.note
    # Both models on the same kept rows; the canary needs a column the live model does not use.
    rows = decode_rows(live.profile["rows"])
    assert set(rows.columns) == set(reference.columns)
    for scores, record in zip(first.scores, (live, canary), strict=True):
        expected = registry.load(record).predict_proba(rows[record.feature_names])[:, 1]
        assert scores == pytest.approx(expected, abs=1e-6)
    kept = registry.get(live.version).profile["pairs"][pair_key(live, canary)]
    assert kept["rows"] == 300

    def no_loading(_record):
        raise AssertionError("the pair was scored again")

    monkeypatch.setattr(registry, "load", no_loading)
    again = pair_reference(registry, registry.get(live.version), live, canary, "well_id")
    assert np.array_equal(again.scores[0], first.scores[0])
    assert np.array_equal(again.scores[1], first.scores[1])


def test_a_profile_without_reference_rows_measures_the_pair_without_judging(pair) -> None:
    registry, live, canary, _ = pair
    registry.set_profile(live.version, {**live.profile, "rows": None})
    result = pair_reference(registry, registry.get(live.version), live, canary, "well_id")
    assert result.scores is None and "no reference rows" in result.note
