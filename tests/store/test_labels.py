"""Ground truth on SQLite and PostgreSQL: stored once per scored request, every other row
reported with its reason, corrections only when asked for."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from model_rows import insert_model
from score_rows import log_scores
from sklearn.linear_model import LogisticRegression
from sqlalchemy import insert, select, text, update

from rendezvous import records
from rendezvous.promotion.labels import add_labels, load_labels, read_label_file, write_rejects
from rendezvous.registry import Registry
from rendezvous.store import Store
from rendezvous.store.schema import labels, models


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Store:
    store = Store(database_url)
    insert_model(store, "L1")
    insert_model(store, "C1", role="canary")
    scored = pd.DataFrame(
        {"request_id": ["r1", "r2", "r3", "r4"], "score": [0.1, 0.9, 0.4, 0.7], "label": ["0", "1", "0", "1"]}
    )
    log_scores(store, tmp_path, "b1", "live", "L1", scored)
    log_scores(store, tmp_path, "b1", "canary", "C1", scored)
    with store.begin() as conn:
        records.write_quarantine(
            store,
            conn,
            "b1",
            pd.DataFrame(
                {"row": [7], "request_id": ["q1"], "column": ["x"], "rule": ["not_null"], "value": [None]}
            ),
        )
    return store


def _frame(pairs: list[tuple[str | None, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["request_id", "outcome"]).astype("str")


def _stored(store: Store) -> dict[str, str]:
    return dict(load_labels(store).itertuples(index=False))


def test_labels_of_scored_requests_are_stored_once(store: Store) -> None:
    report, rejected = add_labels(store, _frame([("r1", "0"), ("r2", "1")]), "day1.csv")
    assert (report.received, report.stored, report.unchanged, report.rejected_rows) == (2, 2, 0, 0)
    assert rejected.empty
    again, _ = add_labels(store, _frame([("r1", "0"), ("r2", "1"), ("r2", "1")]), "day1.csv")
    assert (again.stored, again.unchanged, again.rejected_rows) == (0, 3, 0)
    assert _stored(store) == {"r1": "0", "r2": "1"}
    with store.begin() as conn:
        sources = set(conn.execute(select(labels.c.source)).scalars())
    assert sources == {"day1.csv"}


def test_unknown_and_quarantined_requests_are_reported_not_stored(store: Store) -> None:
    frame = _frame([("r1", "1"), ("nobody", "0"), ("q1", "1"), (None, "1"), ("r3", None)])
    report, rejected = add_labels(store, frame, "mixed.csv")
    assert report.stored == 1
    assert report.rejected == {
        "unknown_request": 1,
        "request_quarantined": 1,
        "missing_request_id": 1,
        "missing_outcome": 1,
    }
    assert report.received == report.stored + report.unchanged + report.rejected_rows
    assert set(rejected.loc[rejected["reason"] == "unknown_request", "request_id"]) == {"nobody"}
    assert _stored(store) == {"r1": "1"}


def test_a_label_that_arrives_before_its_score_is_stored_when_added_again(
    store: Store, tmp_path: Path
) -> None:
    early = _frame([("r9", "1")])
    report, _ = add_labels(store, early, "early.csv")
    assert report.rejected == {"unknown_request": 1}
    scored = pd.DataFrame({"request_id": ["r9"], "score": [0.8], "label": ["1"]})
    log_scores(store, tmp_path, "b2", "live", "L1", scored)
    report, _ = add_labels(store, early, "early.csv")
    assert report.stored == 1 and _stored(store)["r9"] == "1"


def test_a_different_outcome_is_refused_unless_replacing(store: Store) -> None:
    add_labels(store, _frame([("r1", "0"), ("r2", "1")]), "first.csv")
    report, rejected = add_labels(store, _frame([("r1", "1"), ("r2", "1")]), "second.csv")
    assert report.rejected == {"conflicts_with_stored": 1} and report.unchanged == 1
    assert rejected.iloc[0]["detail"] == "stored outcome 0"
    assert _stored(store)["r1"] == "0"
    fixed, _ = add_labels(store, _frame([("r1", "1")]), "correction.csv", replace=True)
    assert (fixed.replaced, fixed.stored) == (1, 0)
    assert _stored(store)["r1"] == "1"


def test_contradicting_rows_in_one_file_are_all_refused(store: Store) -> None:
    report, _ = add_labels(store, _frame([("r1", "0"), ("r1", "1"), ("r2", "1")]), "f.csv")
    assert report.rejected == {"conflicting_in_file": 2} and report.stored == 1
    assert "r1" not in _stored(store)


def test_repeats_and_contradictions_interleaved_under_a_repeating_index(store: Store) -> None:
    """Rows compared whole only where the id repeats: a repeated pair counts once, an id with two
    outcomes is refused on both, and the frame's own index (repeating here) plays no part."""
    pairs = [("r1", "0"), ("r2", "1"), ("r1", "1"), ("r2", "1"), ("r3", "0"), ("r1", "0"), ("r4", "1")]
    frame = _frame(pairs).set_axis([5, 5, 3, 3, 9, 9, 0])
    report, rejected = add_labels(store, frame, "mixed.csv")
    assert report.rejected == {"conflicting_in_file": 2}
    assert sorted(rejected["outcome"]) == ["0", "1"] and set(rejected["request_id"]) == {"r1"}
    assert (report.stored, report.unchanged) == (3, 2)  # r2 twice, (r1, 0) twice
    assert _stored(store) == {"r2": "1", "r3": "0", "r4": "1"}


def test_files_in_csv_and_parquet_give_the_same_outcomes(store: Store, tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("request_id,defaulted\nr1,1\nr2,0\nr3,1.0\n")
    parquet = tmp_path / "labels.parquet"
    pd.DataFrame({"request_id": ["r1", "r2", "r3"], "defaulted": [1.0, 0.0, 1.0]}).to_parquet(parquet)
    from_csv = read_label_file(str(csv), "request_id", ["defaulted", "outcome"])
    from_parquet = read_label_file(str(parquet), "request_id", ["defaulted", "outcome"])
    add_labels(store, from_csv, csv.name)
    report, _ = add_labels(store, from_parquet, parquet.name)
    assert report.unchanged == 3 and report.stored == 0


def test_rejects_file_reflects_the_latest_attempt(store: Store, tmp_path: Path) -> None:
    _, rejected = add_labels(store, _frame([("nobody", "1")]), "late.csv")
    target = write_rejects(rejected, str(tmp_path / "labels"), "late.csv")
    assert target is not None
    assert pd.read_csv(target)[["request_id", "reason"]].values.tolist() == [["nobody", "unknown_request"]]
    _, none_left = add_labels(store, _frame([("r1", "1")]), "late.csv")
    assert write_rejects(none_left, str(tmp_path / "labels"), "late.csv") is None
    assert not Path(target).exists()


def _scored_by(store: Store, root: Path, version: str, ids: list[str]) -> None:
    scored = pd.DataFrame({"request_id": ids, "score": 0.5, "label": None})
    log_scores(store, root, f"batch-{version}", "live", version, scored)


@pytest.mark.parametrize(
    ("classes", "given", "stored", "not_classes"),
    [
        # float-rendered integers are the integer class; "1e20" is no class, never wrapped to int64
        (("0", "1"), ["1.0", " 0 ", "1e20", "2"], ["1", "0"], ["1e20", "2"]),
        (("-1", "1"), ["-1.0", "+1", "1e400", "-9223372036854775808"], ["-1", "1"],
         ["1e400", "-9223372036854775808"]),
        (("no", "yes"), ["yes", " no", "Yes", "1"], ["yes", "no"], ["Yes", "1"]),
        (("False", "True"), ["true", "0.0", "FALSE", "yes"], ["True", "False", "False"], ["yes"]),
    ],
)
def test_outcomes_are_stored_as_the_scoring_models_classes(
    store: Store,
    tmp_path: Path,
    classes: tuple[str, ...],
    given: list[str],
    stored: list[str],
    not_classes: list[str],
) -> None:
    insert_model(store, "M", classes=classes, role="retired")
    ids = [f"m{i}" for i in range(len(given))]
    _scored_by(store, tmp_path, "M", ids)
    report, rejected = add_labels(store, _frame(list(zip(ids, given, strict=True))), "typed.csv")
    labelled = _stored(store)
    assert [labelled[i] for i in ids if i in labelled] == stored
    assert report.rejected == ({"not_a_class": len(not_classes)} if not_classes else {})
    assert rejected["outcome"].tolist() == not_classes
    assert rejected["detail"].str.contains("not one of model M's classes: " + ", ".join(classes)).all()


def test_a_regressors_outcomes_are_numbers_however_large(store: Store, tmp_path: Path) -> None:
    insert_model(store, "R", kind="regressor", role="retired")
    _scored_by(store, tmp_path, "R", ["a", "b", "c", "d"])
    given = _frame([("a", "1e20"), ("b", "2.50"), ("c", "3.0"), ("d", "x")])
    report, rejected = add_labels(store, given, "r.csv")
    assert {k: v for k, v in _stored(store).items() if k in "abcd"} == {"a": "1e+20", "b": "2.5", "c": "3"}
    assert report.rejected == {"not_a_number": 1} and rejected["outcome"].tolist() == ["x"]


def test_a_model_registered_before_classes_were_recorded_is_read_from_its_file(
    store: Store, tmp_path: Path
) -> None:
    rng = np.random.default_rng(5)
    features = pd.DataFrame({"x": rng.normal(size=60)})
    path = tmp_path / "old.joblib"
    joblib.dump(LogisticRegression().fit(features, np.array([0.0, 1.0] * 30)), path)
    registry = Registry(store, str(tmp_path / "models"))
    record = registry.register(path, "candidate", version="old", trust_pickle=True)  # our own file
    with store.begin() as conn:  # as registration wrote it before: no classes in the metadata
        conn.execute(
            update(models)
            .where(models.c.version == "old")
            .values(metadata={"trusted_types": record.trusted_types})
        )
    _scored_by(store, tmp_path, "old", ["o1", "o2", "o3"])
    report, rejected = add_labels(store, _frame([("o1", "1.0"), ("o2", "0"), ("o3", "1e20")]), "old.csv")
    assert {k: _stored(store)[k] for k in ("o1", "o2")} == {"o1": "1", "o2": "0"}
    assert report.rejected == {"not_a_class": 1} and "classes: 0, 1" in rejected["detail"].iloc[0]


def test_integer_ids_match_however_the_label_file_spells_them(store: Store, tmp_path: Path) -> None:
    """Ids the contract declares integers are stored as their digits; a spreadsheet's export
    writes them as 279876.0 (CSV) or as a float column (Parquet)."""
    scored = pd.DataFrame({"request_id": [279876, 7], "score": [0.2, 0.8], "label": ["0", "1"]})
    log_scores(store, tmp_path, "b2", "live", "L1", scored.astype({"request_id": "str"}))
    csv = tmp_path / "labels.csv"
    csv.write_text("request_id,defaulted\n279876.0,1\n+007,0\n")
    parquet = tmp_path / "labels.parquet"
    pd.DataFrame({"request_id": [279876.0, 7.0], "defaulted": [1, 0]}).to_parquet(parquet)
    for path in (csv, parquet):
        frame = read_label_file(str(path), "request_id", ["defaulted"], id_kind="integer")
        assert frame["request_id"].tolist() == ["279876", "7"]
    report, _ = add_labels(store, frame, parquet.name)
    assert (report.stored, report.rejected_rows) == (2, 0)
    text = read_label_file(str(csv), "request_id", ["defaulted"])  # ids of text: kept as sent
    assert text["request_id"].tolist() == ["279876.0", "+007"]


def test_a_bulk_write_stores_the_arrival_time_as_an_ordinary_write_does(store: Store) -> None:
    """Labels are written at driver speed (COPY, executemany), bypassing SQLAlchemy's types: the
    time they arrived must still be stored in the column's own form and read back in UTC."""
    before = datetime.now(UTC)
    add_labels(store, _frame([("r1", "0")]), "day1.csv")
    with store.begin() as conn:
        conn.execute(insert(labels).values(request_id="by-hand", outcome="1", source="x", received_at=before))
        raw = dict(conn.execute(text("SELECT request_id, CAST(received_at AS TEXT) FROM labels")).all())
        read = conn.execute(select(labels.c.received_at).where(labels.c.request_id == "r1")).scalar_one()
    assert before <= read <= datetime.now(UTC) and read.tzinfo is not None
    # the same form (no offset where SQLAlchemy writes none); PostgreSQL drops trailing zeros
    assert _form(raw["r1"]) == _form(raw["by-hand"])


def _form(stored: str) -> str:
    return re.sub(r"\d", "0", re.sub(r"\.\d+", "", stored))
