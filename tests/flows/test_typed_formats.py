"""One batch, every format: a boolean, integer ids, UTC timestamps and nulls give the same
scores bit for bit, the same response types, and the model's own ``predict_proba``; labels
match integer ids however the file spells them; training reads CSV and Parquet batches alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sqlalchemy import delete
from typed_batches import FEATURES, flights, outcome, write_batch, write_suite

from flows.score_batches import score_batches
from flows.train_candidate import train_candidate
from rendezvous.promotion.dataset import read_dev_storage
from rendezvous.promotion.labels import add_labels, read_label_file
from rendezvous.scorelog import read as scorelog
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings
from rendezvous.store.schema import id_runs

pytestmark = pytest.mark.usefixtures("prefect_api")
FORMATS = ["csv", "parquet", "jsonl", "csv.gz"]
READERS = {
    "csv": pd.read_csv,
    "parquet": pd.read_parquet,
    "jsonl": lambda path: pd.read_json(path, lines=True, precise_float=True),
}


@pytest.fixture
def flights_home(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in {
        "SUITE_PATH": str(write_suite(tmp_path)),
        "ID_COLUMN": "flight_id",
        "TIMESTAMP_COLUMN": "departure",
        "REFERENCE_URL": "",
        "PREPROCESS": "",
        "LABEL_COLUMN": "on_time",
        "TRAINING_RECIPE": "typed_batches:recipe",
    }.items():
        monkeypatch.setenv(f"RENDEZVOUS_{name}", value)
    get_settings.cache_clear()
    forget_services()
    history = flights(400, seed=1, first_id=1)
    for role, depth in (("live", 3), ("canary", 2)):
        model = HistGradientBoostingClassifier(max_iter=20, max_depth=depth, random_state=0)
        joblib.dump(model.fit(history[FEATURES], outcome(history)), tmp_path / f"{role}.joblib")
        get_services().registry.register(tmp_path / f"{role}.joblib", role, trust_pickle=True)  # ours
    (home / "inbox").mkdir(parents=True)
    return home


def test_the_same_batch_in_every_format_scores_the_same(flights_home: Path, tmp_path: Path) -> None:
    batch = flights(120, seed=2)
    for k, fmt in enumerate(FORMATS):  # ids differ per file: an id is scored once
        shifted = batch.assign(flight_id=batch["flight_id"] + 1000 * k)
        write_batch(shifted, flights_home / "inbox" / f"b{k}.{fmt}")

    outcomes = sorted(score_batches(), key=lambda o: o["source"])
    assert [o["state"] for o in outcomes] == ["committed"] * 4
    assert [o["rows_scored"] for o in outcomes] == [120] * 4
    live = joblib.load(tmp_path / "live.joblib")
    expected = live.predict_proba(batch[FEATURES])[:, 1]
    for k, (fmt, done) in enumerate(zip(FORMATS, outcomes, strict=True)):
        response = READERS[fmt.removesuffix(".gz")](done["outputs"]["response"])
        assert response["request_id"].dtype == np.int64, fmt
        assert response["label"].dtype == np.int64, fmt  # the model's classes, 0 and 1
        assert (response["request_id"] - 1000 * k).tolist() == batch["flight_id"].tolist(), fmt
        assert np.array_equal(response["score"].to_numpy(), expected), fmt  # bit for bit

    dev, _ = read_dev_storage(str(flights_home / "dev"))
    assert dev["flight_id"].dtype == np.int64
    assert dev["delayed_before"].dtype == bool
    assert str(dev["departure"].dtype).endswith("UTC]")
    assert len(dev) == 480 and dev["seats"].isna().sum() == 4 * batch["seats"].isna().sum()


def test_labels_with_float_spelled_ids_match_and_training_reads_csv_and_parquet(
    flights_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = flights(150, seed=3, first_id=279_800)
    new = flights(150, seed=4, first_id=279_950)
    write_batch(old, flights_home / "inbox" / "a.csv")
    write_batch(new, flights_home / "inbox" / "b.parquet")
    outcomes = score_batches()
    assert [o["state"] for o in outcomes] == ["committed"] * 2
    scanned: list[list[str] | None] = []
    query = scorelog.query

    def recorded(*args: Any, **kwargs: Any) -> Any:
        scanned.append(kwargs.get("batch_ids"))
        return query(*args, **kwargs)

    monkeypatch.setattr(scorelog, "query", recorded)

    both = pd.concat([old, new], ignore_index=True)
    labels = tmp_path / "labels.csv"
    rows = zip(both["flight_id"], outcome(both), strict=True)
    labels.write_text("flight_id,on_time\n" + "".join(f"{i}.0,{y}\n" for i, y in rows) + "5000,1\n")
    services = get_services()
    frame = read_label_file(str(labels), "flight_id", ["on_time"], services.contract().kinds["flight_id"])
    report, _ = add_labels(services.store, frame, labels.name, scored=services.scored_ids)
    assert "279876" in set(frame["request_id"])
    assert (report.stored, report.rejected) == (300, {"unknown_request": 1})
    # the scored-id set names the batches whose files hold the labelled ids; a home where it
    # lacks a committed batch (scored under id scope "batch") has every file scanned instead
    assert scanned[-1] == sorted(o["batch_id"] for o in outcomes)
    with services.store.begin() as conn:
        conn.execute(delete(id_runs).where(id_runs.c.url.contains(outcomes[0]["batch_id"])))
    report, _ = add_labels(services.store, frame, labels.name, scored=services.scored_ids)
    assert (report.unchanged, report.rejected) == (300, {"unknown_request": 1})
    assert scanned[-1] is None

    result = train_candidate(version="flights-2")
    assert result["version"] == "flights-2"


def test_an_integer_id_scored_before_is_found_however_the_next_file_spells_it(flights_home: Path) -> None:
    """The store is asked about a chunk's ids as sent while the chunk is validated; ids the
    contract types into another text ("0051" is 51) are asked about again, as typed."""
    first = flights(60, seed=5, first_id=1)
    write_batch(first, flights_home / "inbox" / "a.parquet")
    assert [o["state"] for o in score_batches()] == ["committed"]

    again = flights(120, seed=6, first_id=51)  # ids 51..60 scored already, 61..170 new
    spelled = again.assign(flight_id=[f"{i:04d}" if i <= 60 else str(i) for i in again["flight_id"]])
    write_batch(spelled, flights_home / "inbox" / "b.csv")
    (done,) = score_batches()

    assert (done["state"], done["rows_scored"], done["rows_quarantined"]) == ("committed", 110, 10)
    response = pd.read_csv(done["outputs"]["response"])
    assert sorted(response["request_id"]) == list(range(61, 171))
    rejects = pd.read_csv(done["outputs"]["rejects"])
    assert set(rejects["rule"]) == {"request_id_already_scored"}
    assert sorted(rejects["request_id"].astype(int)) == list(range(51, 61))
