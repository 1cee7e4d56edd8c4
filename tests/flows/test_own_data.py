"""A schema unlike the demo's, with none of the demo's settings: the neutral defaults add
nothing, time is request time, and request ids are what the README says they are."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from flows.score_batches import score_batches
from rendezvous.cli.app import app
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_api")

COLUMNS = ["trip_id", "customer_id", "departed_at", "distance_km", "delay_min"]
SUITE = {
    "name": "trips",
    "expectations": [
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": COLUMNS}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "trip_id"}},
        *(
            {
                "type": "expect_column_values_to_be_in_type_list",
                "kwargs": {"column": column, "type_list": ["float64", "int64"]},
            }
            for column in ("distance_km", "delay_min")
        ),
    ],
}


@pytest.fixture
def own_home(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Only what a user of another schema sets: suite, id and timestamp columns. A table sits
    where the demo keeps its customers, sharing a column name with this schema."""
    monkeypatch.delenv("RENDEZVOUS_CONFIG", raising=False)
    suite = tmp_path / "trips.json"
    suite.write_text(json.dumps(SUITE))
    monkeypatch.setenv("RENDEZVOUS_SUITE_PATH", str(suite))
    monkeypatch.setenv("RENDEZVOUS_ID_COLUMN", "trip_id")
    monkeypatch.setenv("RENDEZVOUS_TIMESTAMP_COLUMN", "departed_at")
    (home / "reference").mkdir(parents=True)
    pd.DataFrame({"customer_id": [1, 2], "segment": ["a", "b"]}).to_parquet(
        home / "reference" / "customers.parquet"
    )
    get_settings.cache_clear()
    forget_services()
    history = _trips(400, seed=1)
    model = LogisticRegression().fit(history[["distance_km", "delay_min"]], _outcomes(history))
    joblib.dump(model, tmp_path / "live.joblib")
    get_services().registry.register(tmp_path / "live.joblib", "live", trust_pickle=True)
    return home


@pytest.fixture
def no_demo_steps(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Feature step and join off explicitly, so a test is about its own subject on any version."""
    monkeypatch.setenv("RENDEZVOUS_PREPROCESS", "")
    monkeypatch.setenv("RENDEZVOUS_REFERENCE_URL", str(own_home / "no-such-table.parquet"))
    monkeypatch.setenv("RENDEZVOUS_REFERENCE_KEY", "customer_id")
    get_settings.cache_clear()
    forget_services()
    return own_home


def _trips(n: int, seed: int, start: str = "2025-01-01") -> pd.DataFrame:
    """A backfill: one trip every three days from ``start``, months of request time."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "trip_id": np.arange(n) + seed * 100_000,
            "customer_id": rng.integers(1, 50, n),
            "departed_at": pd.date_range(start, periods=n, freq="3D").strftime("%Y-%m-%dT%H:%M:%SZ"),
            "distance_km": rng.uniform(1, 900, n).round(1),
            "delay_min": rng.normal(10, 15, n).round(0),
        }
    )


def _outcomes(frame: pd.DataFrame) -> np.ndarray:
    return (frame["delay_min"] > 10).astype(int).to_numpy()


def _send(home: Path, name: str, frame: pd.DataFrame) -> dict:
    inbox = home / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    frame.to_csv(inbox / name, index=False)
    (outcome,) = score_batches()
    return outcome


def test_another_schema_gets_no_demo_columns_no_join_and_request_day_partitions(own_home: Path) -> None:
    trips = _trips(60, seed=2)  # 2025-01-01 .. 2025-06-28
    trips.loc[7, "departed_at"] = "the 3rd, after lunch"
    outcome = _send(own_home, "trips-0001.csv", trips)

    assert outcome["state"] == "committed", outcome
    assert (outcome["rows_scored"], outcome["rows_quarantined"]) == (59, 1)
    rejects = pd.read_csv(outcome["outputs"]["rejects"], dtype="str")
    assert rejects[["request_id", "column", "rule", "value"]].values.tolist() == [
        ["200007", "departed_at", "unparsable_timestamp", "the 3rd, after lunch"]
    ]
    log = pd.read_parquet(own_home / "archive" / "log" / outcome["batch_id"])
    assert list(log.columns) == COLUMNS  # no feature step, no reference join
    dev = pd.read_parquet(own_home / "dev")
    assert set(dev.columns) == {*COLUMNS, "_batch_id", "date"}
    expected_days = set(trips.drop(index=7)["departed_at"].str[:10])
    assert set(dev["date"].astype(str)) == expected_days
    assert datetime.now(UTC).strftime("%Y-%m-%d") not in set(dev["date"].astype(str))


def test_performance_by_day_and_week_is_request_time(no_demo_steps: Path, tmp_path: Path) -> None:
    own_home = no_demo_steps
    trips = _trips(40, seed=3, start="2025-03-01")
    _send(own_home, "trips-0001.csv", trips)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"trip_id": trips["trip_id"], "outcome": _outcomes(trips)}).to_csv(labels, index=False)
    runner = CliRunner()
    added = runner.invoke(app, ["labels", "add", str(labels)])
    assert added.exit_code == 0, added.output

    by_day = json.loads(runner.invoke(app, ["performance", "--by", "day", "--json"]).output)
    assert {r["window"]: r["n"] for r in by_day} == dict.fromkeys(trips["departed_at"].str[:10], 1)
    by_week = json.loads(runner.invoke(app, ["performance", "--by", "week", "--json"]).output)
    assert sum(r["n"] for r in by_week) == 40
    assert all(pd.Timestamp(r["at"]).weekday() == 0 for r in by_week)
    assert len(by_week) == 18  # 40 trips three days apart: 117 days, 18 Monday-started weeks
    table = runner.invoke(app, ["performance", "--by", "day"]).output
    assert "request time (departed_at)" in table


def test_a_batch_of_ids_all_scored_before_is_rejected_naming_the_batch(no_demo_steps: Path) -> None:
    own_home = no_demo_steps
    trips = _trips(30, seed=4)
    first = _send(own_home, "trips-0001.csv", trips)
    assert first["state"] == "committed"

    again = _send(own_home, "trips-0001-copy.csv", trips.iloc[::-1])  # other bytes, same requests
    assert again["state"] == "rejected", again
    assert first["batch_id"] in again["reason"]
    assert (again["rows_scored"], again["rows_quarantined"]) == (0, 30)

    partly = trips.iloc[:25].assign(trip_id=lambda f: f["trip_id"] + 50_000)
    mixed = _send(own_home, "trips-0002.csv", pd.concat([trips.iloc[25:], partly]))
    assert mixed["state"] == "committed"  # some ids new: their rows are scored, the others set aside
    assert (mixed["rows_scored"], mixed["rows_quarantined"]) == (25, 5)


def test_id_scope_batch_scores_an_id_again_in_another_file_and_refuses_labels(
    no_demo_steps: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENDEZVOUS_ID_SCOPE", "batch")
    get_settings.cache_clear()
    forget_services()
    first = _send(no_demo_steps, "trips-0001.csv", _trips(20, seed=5))
    numbered_again = _trips(20, seed=6).assign(trip_id=_trips(20, seed=5)["trip_id"])
    second = _send(no_demo_steps, "trips-0002.csv", numbered_again)
    assert (first["state"], second["state"]) == ("committed", "committed")
    assert (second["rows_scored"], second["rows_quarantined"]) == (20, 0)
    responses = [pd.read_csv(o["outputs"]["response"]) for o in (first, second)]
    assert responses[0]["request_id"].tolist() == responses[1]["request_id"].tolist()

    labels = tmp_path / "labels.csv"
    pd.DataFrame({"trip_id": [500_000], "outcome": [1]}).to_csv(labels, index=False)
    refused = CliRunner().invoke(app, ["labels", "add", str(labels)])
    assert refused.exit_code == 2 and "RENDEZVOUS_ID_SCOPE=batch" in refused.output
    verified = CliRunner().invoke(app, ["verify"])
    assert verified.exit_code == 0, verified.output
