"""A use case unlike the demo's for the scoring commands: meter readings (id `meter`, two numeric
features), no reference table, no preprocess step, one small live model (tests/cli/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from rendezvous.registry import ModelRecord
from rendezvous.services import get_services

SUITE = {
    "name": "meter_readings",
    "expectations": [
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["meter", "kwh", "volts"]}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "meter"}},
    ],
}


def register_meter_model(tmp_path: Path) -> ModelRecord:
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"kwh": rng.normal(10, 3, 80), "volts": rng.normal(230, 5, 80)})
    joblib.dump(LogisticRegression().fit(train, rng.integers(0, 2, 80)), tmp_path / "meter.joblib")
    registry = get_services().registry
    return registry.register(tmp_path / "meter.joblib", "live", version="m1", trust_pickle=True)  # ours


def write_readings(inbox: Path, name: str = "readings.csv") -> None:
    pd.DataFrame({"meter": ["m-1", "m-2"], "kwh": [9.5, 11.0], "volts": [229.0, 231.5]}).to_csv(
        inbox / name, index=False
    )
