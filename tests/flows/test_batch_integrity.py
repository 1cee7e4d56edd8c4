"""A batch is held and accounted for by the pipeline itself, whatever the user's suite says:
repeated request ids set aside, one claimant per file, the lease renewed while the batch is held."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from fsspec.implementations.local import LocalFileSystem
from sklearn.linear_model import LogisticRegression

from flows.score_batches import score_batches
from rendezvous import pipeline
from rendezvous.batchfiles import sha256_file
from rendezvous.ledger import Ledger, batch_id_for
from rendezvous.monitoring import batch_monitor
from rendezvous.pipeline import BatchJob, Outcome
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_api")

# Integer ids and no uniqueness expectation: the contract says nothing about repeated ids.
TYPES = {"meter": ["int64"], "kwh": ["float64"], "volts": ["float64"]}
SUITE = {
    "name": "meter_readings",
    "expectations": [
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": list(TYPES)}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "meter"}},
        *(
            {"type": "expect_column_values_to_be_in_type_list", "kwargs": {"column": c, "type_list": t}}
            for c, t in TYPES.items()
        ),
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "kwh", "min_value": 0, "max_value": 100},
        },
    ],
}


@pytest.fixture
def meter_home(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """A home with the meter contract and two small classifiers; settings given as keywords."""

    def make(**settings: str) -> Path:
        suite = tmp_path / "meter_suite.json"
        suite.write_text(json.dumps(SUITE))
        values = {"SUITE_PATH": str(suite), "ID_COLUMN": "meter", "REFERENCE_URL": "", "PREPROCESS": ""}
        for name, value in {**values, **settings}.items():
            monkeypatch.setenv(f"RENDEZVOUS_{name}", value)
        get_settings.cache_clear()
        forget_services()
        rng = np.random.default_rng(3)
        features = pd.DataFrame({"kwh": rng.uniform(0, 100, 200), "volts": rng.normal(230, 5, 200)})
        target = (features["kwh"] > 50).astype(int)
        for role, c in (("live", 1.0), ("canary", 0.1)):
            path = tmp_path / f"{role}.joblib"
            joblib.dump(LogisticRegression(C=c).fit(features, target), path)
            get_services().registry.register(path, role, trust_pickle=True)  # our own file
        (home / "inbox").mkdir(parents=True, exist_ok=True)
        return home / "inbox"

    return make


def _readings(meters: list[int]) -> pd.DataFrame:
    n = len(meters)
    return pd.DataFrame(
        {"meter": np.array(meters, dtype=np.int64), "kwh": np.linspace(1, 90, n), "volts": np.full(n, 231.0)}
    )


def test_repeated_ids_are_set_aside_within_and_across_chunks(meter_home: Callable[..., Path]) -> None:
    inbox = meter_home(CHUNK_ROWS="4", MAX_INVALID_SHARE="0.5")
    meters = [1, 2, 10, 2, 5, 1, 6, 7, 8, 8, 10, 9, 11, 7]  # chunks of four rows
    readings = _readings(meters)
    readings.loc[2, "kwh"] = 500.0  # row 2 (meter 10) breaks the contract; row 10 repeats its id
    readings.to_parquet(inbox / "meters.parquet", index=False)

    (outcome,) = score_batches()

    assert outcome["state"] == "committed"
    rejects = pd.read_parquet(outcome["outputs"]["rejects"])
    repeated = rejects[rejects["rule"] == "duplicate_request_id_in_batch"]
    # within chunk 0 (row 3), across chunks (5, 13), within chunk 2 (9), a rejected row's id (10)
    assert sorted(repeated["row"]) == [3, 5, 9, 10, 13]
    assert sorted(repeated["request_id"]) == ["1", "10", "2", "7", "8"]
    response = pd.read_parquet(outcome["outputs"]["response"])
    assert sorted(response["request_id"].astype(int)) == [1, 2, 5, 6, 7, 8, 9, 11]
    assert outcome["rows_in"] == len(meters) == outcome["rows_scored"] + outcome["rows_quarantined"]
    assert (outcome["rows_scored"], outcome["rows_quarantined"]) == (8, 6)


@pytest.mark.parametrize(
    ("settings", "released_by"),
    [
        ({}, 1),  # the next chunk is prepared while chunk 0 is scored
        ({"RESPONSE_DEADLINE_SECONDS": "0.05"}, 2),  # live past the deadline: canary answers, live is late
    ],
    ids=["in-flight", "late"],
)
def test_an_id_whose_earlier_scores_are_not_logged_yet_is_still_a_repeat(
    meter_home: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, settings: dict, released_by: int
) -> None:
    """Chunk 0's live bin is held until chunk ``released_by`` has been prepared: chunk 0's live
    scores are not in any file when the later chunks look for the ids it carried."""
    inbox = meter_home(CHUNK_ROWS="3", MAX_INVALID_SHARE="0.9", **settings)
    _readings([31, 32, 33, 40, 31, 41, 42, 33, 32]).to_parquet(inbox / "held.parquet", index=False)
    prepared_chunk = {n: threading.Event() for n in range(3)}
    prepare, score_bin = pipeline.prepare, pipeline.score_bin

    def prepare_and_tell(services, job, chunk, *args, **kwargs):
        result = prepare(services, job, chunk, *args, **kwargs)
        prepared_chunk[chunk].set()
        return result

    def held_live_bin(services, job, role, record, prepared):
        if role == "live" and prepared.chunk == 0 and not prepared_chunk[released_by].wait(timeout=20):
            raise AssertionError(f"chunk {released_by} was not prepared while chunk 0 was being scored")
        return score_bin(services, job, role, record, prepared)

    monkeypatch.setattr(pipeline, "prepare", prepare_and_tell)
    monkeypatch.setattr(pipeline, "score_bin", held_live_bin)

    (outcome,) = score_batches()

    assert outcome["state"] == "committed", outcome["reason"]
    rejects = pd.read_parquet(outcome["outputs"]["rejects"])
    repeated = rejects[rejects["rule"] == "duplicate_request_id_in_batch"]
    assert sorted(repeated["row"]) == [4, 7, 8]  # ids 31, 33, 32 of chunk 0, in chunks 1 and 2
    assert sorted(repeated["request_id"]) == ["31", "32", "33"]
    assert outcome["rows_scored"] == 6 and outcome["rows_quarantined"] == 3


def test_two_intakes_racing_on_one_file_one_claims_the_other_is_told(
    meter_home: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = meter_home()
    _readings([1, 2, 3]).to_parquet(inbox / "race.parquet", index=False)
    services = get_services()
    archive = str(get_settings().archive_url)
    both_read = threading.Barrier(2)
    hash_file, open_file = pipeline.sha256_file, LocalFileSystem.open
    meeting = threading.Condition()
    arrived = {"writing": 0, "done": 0}

    def read_then_wait(url: str) -> str:
        digest = hash_file(url)
        both_read.wait()  # both have the file's fingerprint before either goes on
        return digest

    def open_then_meet(self: LocalFileSystem, path: str, mode: str = "rb", **kwargs: object) -> object:
        handle = open_file(self, path, mode, **kwargs)
        if "w" in mode and str(path).startswith(archive):
            # a run writing the archive goes on once the other run writes it too, or is done
            with meeting:
                arrived["writing"] += 1
                meeting.notify_all()
                meeting.wait_for(lambda: arrived["writing"] + arrived["done"] >= 2, timeout=120)
        return handle

    monkeypatch.setattr(pipeline, "sha256_file", read_then_wait)
    monkeypatch.setattr(LocalFileSystem, "open", open_then_meet)
    results: list[BatchJob | Outcome | BaseException] = []

    def take_in() -> None:
        try:
            results.append(pipeline.intake(services, "race.parquet"))
        except BaseException as exc:  # the test reports whatever a run raised
            results.append(exc)
        finally:
            with meeting:
                arrived["done"] += 1
                meeting.notify_all()

    runs = [threading.Thread(target=take_in) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()

    jobs = [r for r in results if isinstance(r, BatchJob)]
    told = [r for r in results if isinstance(r, Outcome)]
    assert len(jobs) == 1 and len(told) == 1, results
    assert told[0].state == "busy" and told[0].batch_id == jobs[0].batch_id
    archived = Path(jobs[0].archive_url)
    assert archived.read_bytes() == (inbox / "race.parquet").read_bytes()
    assert [p.name for p in archived.parent.iterdir()] == [archived.name]  # no temporary left


def test_a_missing_archive_directory_is_an_error_not_a_taken_file(
    meter_home: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = meter_home()
    _readings([1, 2, 3]).to_parquet(inbox / "lost.parquet", index=False)
    archive = str(get_settings().archive_url)
    makedirs = LocalFileSystem.makedirs

    def archive_unmounted(self: LocalFileSystem, path: str, exist_ok: bool = False) -> None:
        if not str(path).startswith(archive):  # the archive's folders cannot be made
            makedirs(self, path, exist_ok=exist_ok)

    monkeypatch.setattr(LocalFileSystem, "makedirs", archive_unmounted)
    services = get_services()
    with pytest.raises(FileNotFoundError):
        pipeline.intake(services, "lost.parquet")
    batch = services.ledger.get(batch_id_for("lost.parquet", sha256_file(str(inbox / "lost.parquet"))))
    assert batch.state == "received" and batch.claimed_by is None  # the claim was given back
    assert "archiving failed: FileNotFoundError" in batch.reason
    assert (inbox / "lost.parquet").exists()


def test_the_lease_is_renewed_while_a_bin_outlasts_it_and_monitoring_follows_the_commit(
    meter_home: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = meter_home(LEASE_SECONDS="1")
    _readings([1, 2, 3, 4]).to_parquet(inbox / "watched.parquet", index=False)
    renewed = threading.Event()
    heartbeat = Ledger.heartbeat

    def counted(self: Ledger, batch_id: str, owner: str) -> None:
        heartbeat(self, batch_id, owner)
        renewed.set()

    seen_in_the_bin: list[bool] = []
    dev_copy = pipeline.dev_copy_bin

    def slow_dev_copy(services: object, job: BatchJob, prepared: object) -> int:
        renewed.clear()
        seen_in_the_bin.append(renewed.wait(timeout=120))  # outlasts the 1 s lease by far
        return dev_copy(services, job, prepared)

    states_when_monitored: list[str] = []

    def monitor(services: object, job: BatchJob, committed: Callable[[], bool]) -> None:
        assert committed()  # measured while it commits, written once it has
        states_when_monitored.append(get_services().ledger.get(job.batch_id).state)

    monkeypatch.setattr(Ledger, "heartbeat", counted)
    monkeypatch.setattr(pipeline, "dev_copy_bin", slow_dev_copy)
    monkeypatch.setattr(batch_monitor, "monitor_batch", monitor)

    (outcome,) = score_batches()

    assert seen_in_the_bin == [True]
    assert outcome["state"] == "committed"
    # drift never holds up the response the commit publishes
    assert states_when_monitored == ["committed"]


def test_a_run_that_read_a_file_before_another_run_moved_it_is_told_gone_not_duplicate(
    meter_home: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One run hashes the file; before it records the arrival, another run commits the batch and
    moves the file to done/. The first run's file is the same file, not a second copy of it."""
    inbox = meter_home()
    _readings([1, 2, 3]).to_parquet(inbox / "late.parquet", index=False)
    digest = sha256_file(str(inbox / "late.parquet"))
    (outcome,) = score_batches()  # the other run: committed, moved
    assert outcome["state"] == "committed"
    monkeypatch.setattr(pipeline, "sha256_file", lambda url: digest)  # read before the move
    told = pipeline.intake(get_services(), "late.parquet")
    assert isinstance(told, Outcome) and told.state == "gone", told
    done = Path(get_settings().done_url)
    assert sorted(p.name for p in done.iterdir()) == ["late.parquet"]  # no duplicate note

    # the same bytes sent again really are a duplicate, and say so
    _readings([1, 2, 3]).to_parquet(inbox / "late.parquet", index=False)
    again = pipeline.intake(get_services(), "late.parquet")
    assert isinstance(again, Outcome) and again.state == "duplicate"
    assert (done / "late.parquet.reason.txt").exists()
