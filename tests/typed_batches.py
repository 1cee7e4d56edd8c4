"""A schema unlike the demo's: a boolean, integer ids, integers and floats with nulls, UTC
timestamps and text, declared with GX's type expectations; and one batch of it in every format."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd

TYPE_OF = "expect_column_values_to_be_of_type"
TYPE_LIST = "expect_column_values_to_be_in_type_list"
COLUMNS = ["flight_id", "departure", "carrier", "delayed_before", "seats", "distance"]
FEATURES = ["delayed_before", "seats", "distance"]
SUITE = {
    "name": "flights",
    "expectations": [
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": COLUMNS}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "flight_id"}},
        {"type": TYPE_OF, "kwargs": {"column": "flight_id", "type_": "int64"}},
        {"type": TYPE_OF, "kwargs": {"column": "departure", "type_": "datetime64[ns, UTC]"}},
        {"type": TYPE_OF, "kwargs": {"column": "carrier", "type_": "str"}},
        {"type": TYPE_OF, "kwargs": {"column": "delayed_before", "type_": "bool"}},
        {"type": TYPE_LIST, "kwargs": {"column": "seats", "type_list": ["int64", "Int64"]}},
        {"type": TYPE_LIST, "kwargs": {"column": "distance", "type_list": ["float64", "int64"]}},
    ],
}


def write_suite(folder: Path) -> Path:
    path = folder / "flights_suite.json"
    path.write_text(json.dumps(SUITE))
    return path


def flights(n: int, seed: int, first_id: int = 279_000) -> pd.DataFrame:
    """Rows as the model sees them: bool, nullable integers, floats with NaN, UTC times."""
    rng = np.random.default_rng(seed)
    seats = pd.array(rng.integers(50, 300, n), dtype="Int64")
    seats[::7] = pd.NA
    distance = rng.uniform(100, 5000, n)
    distance[::5] = np.nan
    return pd.DataFrame(
        {
            "flight_id": np.arange(first_id, first_id + n, dtype=np.int64),
            "departure": pd.date_range("2026-01-03 06:00", periods=n, freq="37min", tz="UTC"),
            "carrier": rng.choice(["AA", "1", "True"], n),  # text that only looks like other types
            "delayed_before": rng.random(n) < 0.3,
            "seats": seats,
            "distance": distance,
        }
    )


def write_batch(frame: pd.DataFrame, path: Path) -> Path:
    """The frame as an upstream system would send it in the format ``path`` names."""
    name = path.name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif name.endswith(".jsonl"):
        # json, not pandas' to_json: that one rounds floats to 10 digits
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        path.write_text("".join(json.dumps(r, default=pd.Timestamp.isoformat) + "\n" for r in records))
    elif name.endswith(".csv.gz"):
        path.write_bytes(gzip.compress(frame.to_csv(index=False).encode()))
    else:
        frame.to_csv(path, index=False)
    return path


def recipe() -> object:
    """A training recipe for this schema (settings ``training_recipe``)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    select = ColumnTransformer([("features", "passthrough", FEATURES)])
    return Pipeline([("select", select), ("model", HistGradientBoostingClassifier(max_iter=30))])


def outcome(frame: pd.DataFrame) -> np.ndarray:
    """Whether the flight left on time: a rule the models can learn from the features."""
    distance = frame["distance"].fillna(1000).to_numpy()
    return np.where(frame["delayed_before"].to_numpy() | (distance > 3500), 0, 1)
