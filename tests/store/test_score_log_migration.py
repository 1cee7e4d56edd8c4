"""A home an older version made kept every score as a row of a SQL table, ``scores``: at first
open its committed batches' rows become their score files, their live ids enter the scored-id
set, and nothing scored is lost; the rows of a batch still in flight are dropped (its next
claim scores it again). A later version kept the scored ids in a SQL table: they become a run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from score_rows import score_rows
from sqlalchemy import insert, text

from rendezvous.scorelog import migrate
from rendezvous.scorelog.scored_ids import ScoredIds
from rendezvous.services import Services
from rendezvous.settings import Settings
from rendezvous.store import Store
from rendezvous.store.engine import dispose_all
from rendezvous.store.schema import batches
from rendezvous.store.upgrade import legacy_tables

OLD_TABLE = """CREATE TABLE scores (batch_id VARCHAR(200) NOT NULL, request_id VARCHAR(512) NOT NULL,
role VARCHAR(16) NOT NULL, model_version VARCHAR(200) NOT NULL, score FLOAT, label VARCHAR(64))"""


def _batch(batch_id: str, state: str) -> dict:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    return {"id": batch_id, "source": f"{batch_id}.csv", "sha256": batch_id.ljust(64, "0"), "format": "csv",
            "state": state, "rows_in": 3, "rows_scored": 3, "received_at": now, "outputs": {}}


def test_an_old_homes_scores_become_files_and_nothing_scored_is_lost(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrate, "ROWS_PER_FILE", 2)  # a batch's rows go into bounded files
    rows = [
        {"batch_id": b, "request_id": f"{b}{i}", "role": role, "model_version": version,
         "score": i / 10, "label": str(i % 2)}
        for b in ("done", "flying")
        for role, version in (("live", "L1"), ("canary", "C1"))
        for i in range(3)
    ]
    with Store(database_url).begin() as conn:
        conn.execute(insert(batches), [_batch("done", "committed"), _batch("flying", "processing")])
        conn.execute(text(OLD_TABLE))
        conn.execute(
            text("INSERT INTO scores VALUES (:batch_id, :request_id, :role, :model_version, :score, :label)"),
            rows,
        )
    dispose_all()

    store = Services(Settings(home=tmp_path, database_url=database_url)).store  # the first open
    logged = score_rows(store).sort_values(["role", "request_id"], ignore_index=True)
    assert logged.pop("error").isna().all()  # the old table kept no model errors
    kept = [r for r in rows if r["batch_id"] == "done"]
    assert logged.to_dict("records") == sorted(kept, key=lambda r: (r["role"], r["request_id"]))
    found = ScoredIds(store, str(tmp_path / "archive")).find(pa.array(["done0", "done1", "done2", "flying0"]))
    assert dict(zip(found.request_ids.to_pylist(), found.batch_ids.to_pylist(), strict=True)) == {
        "done0": "done", "done1": "done", "done2": "done"
    }
    assert not legacy_tables(store.engine)
    assert list((tmp_path / "archive" / "scores").iterdir()) == [tmp_path / "archive" / "scores" / "done"]
    dispose_all()


OLD_ID_TABLE = "CREATE TABLE scored_ids (request_id VARCHAR(512) PRIMARY KEY, batch_id VARCHAR(200) NOT NULL)"


def test_an_old_homes_scored_id_table_becomes_a_run_and_its_ids_stay_scored(
    database_url: str, tmp_path: Path
) -> None:
    ids = [f"id-{n:05d}" for n in range(3000)] + ["a,b", 'say "hi"', "émoji 🍷", ""]
    held = {request_id: f"batch-{n % 7}" for n, request_id in enumerate(ids)}
    with Store(database_url).begin() as conn:
        conn.execute(text(OLD_ID_TABLE))
        rows = [{"r": r, "b": b} for r, b in held.items()]
        conn.execute(text("INSERT INTO scored_ids VALUES (:r, :b)"), rows)
    dispose_all()

    services = Services(Settings(home=tmp_path, database_url=database_url))
    assert not legacy_tables(services.store.engine)  # the first open moved it
    found = services.scored_ids.find(pa.array([*ids, "never", "id-1"]))
    assert dict(zip(found.request_ids.to_pylist(), found.batch_ids.to_pylist(), strict=True)) == held
    per_batch = {batch: list(held.values()).count(batch) for batch in set(held.values())}
    assert services.scored_ids.survey().per_batch == per_batch
    assert services.scored_ids.survey().problems == []
    dispose_all()
