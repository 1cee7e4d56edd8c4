"""A user's own schema, suite, reference table and scikit-learn pipeline, as the README describes."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from flows.score_batches import score_batches
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_api")

SUITE = {
    "name": "sensor_readings",
    "expectations": [
        {
            "type": "expect_table_columns_to_match_set",
            "kwargs": {"column_set": ["reading_id", "site_id", "measured_at", "temperature", "humidity"]},
        },
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "reading_id"}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "reading_id"}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "humidity"}},
        {
            "type": "expect_column_values_to_be_in_type_list",
            "kwargs": {"column": "temperature", "type_list": ["float64", "int64"]},
        },
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "temperature", "min_value": -50, "max_value": 60},
        },
        {
            "type": "expect_column_values_to_be_in_type_list",
            "kwargs": {"column": "humidity", "type_list": ["float64", "int64"]},
        },
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "humidity", "min_value": 0, "max_value": 100},
        },
    ],
}


@pytest.fixture
def sensor_home(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    suite = tmp_path / "sensor_suite.json"
    suite.write_text(json.dumps(SUITE))
    sites = tmp_path / "sites.parquet"
    pd.DataFrame({"site_id": ["s1", "s2", "s3"], "altitude": [10.0, 500.0, 1500.0]}).to_parquet(sites)
    for name, value in {
        "SUITE_PATH": str(suite),
        "ID_COLUMN": "reading_id",
        "TIMESTAMP_COLUMN": "measured_at",
        "REFERENCE_URL": str(sites),
        "REFERENCE_KEY": "site_id",
        "PREPROCESS": "",
    }.items():
        monkeypatch.setenv(f"RENDEZVOUS_{name}", value)
    get_settings.cache_clear()
    forget_services()
    return home


def _readings(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "reading_id": [f"rd-{seed}-{i}" for i in range(n)],
            "site_id": rng.choice(["s1", "s2", "s3"], n),
            "measured_at": pd.date_range("2026-03-01", periods=n, freq="min").strftime("%Y-%m-%dT%H:%M:%SZ"),
            "temperature": rng.normal(15, 8, n).round(2),
            "humidity": rng.uniform(20, 90, n).round(1),
        }
    )


def test_own_schema_suite_and_regressor_pipeline(sensor_home: Path, tmp_path: Path) -> None:
    train = _readings(500, seed=1).merge(
        pd.DataFrame({"site_id": ["s1", "s2", "s3"], "altitude": [10.0, 500.0, 1500.0]})
    )
    features = train[["temperature", "humidity", "altitude"]]
    target = 0.3 * train["temperature"] - 0.01 * train["altitude"]
    for role, model in (
        ("live", RandomForestRegressor(n_estimators=20, random_state=0)),
        ("canary", make_pipeline(StandardScaler(), Ridge())),
    ):
        path = tmp_path / f"{role}.joblib"
        joblib.dump(model.fit(features, target), path)
        get_services().registry.register(path, role, trust_pickle=True)  # our own joblib file

    batch = _readings(200, seed=2)
    batch.loc[5, "temperature"] = 99.0  # out of range
    batch.loc[9, "humidity"] = None
    batch.loc[12, "site_id"] = "s404"  # not in the reference table
    inbox = sensor_home / "inbox"
    inbox.mkdir(parents=True)
    batch.to_csv(inbox / "readings-0001.csv", index=False)

    (outcome,) = score_batches()
    assert outcome["state"] == "committed"
    assert outcome["rows_in"] == 200
    response = pd.read_csv(outcome["outputs"]["response"])
    rejects = pd.read_csv(outcome["outputs"]["rejects"])
    assert set(rejects["request_id"]) == {"rd-2-5", "rd-2-9", "rd-2-12"}
    assert set(rejects["rule"]) == {
        "expect_column_values_to_be_between",
        "expect_column_values_to_not_be_null",
        "reference_key_missing",
    }
    assert "rd-2-5" not in set(response["request_id"])
    assert outcome["rows_scored"] + outcome["rows_quarantined"] == 200
    assert len(response) == outcome["rows_scored"]
    assert response["label"].isna().all()  # a regressor has no label
    dev = pd.read_parquet(sensor_home / "dev")
    assert set(dev["date"].astype(str)) == {"2026-03-01"}
    assert "altitude" in dev.columns
