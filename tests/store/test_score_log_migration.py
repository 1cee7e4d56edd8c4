"""A home an older version made kept every score as a row of a SQL table, ``scores``: at first
open its committed batches' rows become their score files, their live ids enter the scored-id
table, and nothing scored is lost; the rows of a batch still in flight are dropped (its next
claim scores it again)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from score_rows import score_rows
from sqlalchemy import insert, select, text

from rendezvous.scorelog import migrate
from rendezvous.services import Services
from rendezvous.settings import Settings
from rendezvous.store import Store
from rendezvous.store.engine import dispose_all
from rendezvous.store.schema import batches, scored_ids
from rendezvous.store.upgrade import has_legacy_scores

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
    with store.begin() as conn:
        ids = dict(conn.execute(select(scored_ids.c.request_id, scored_ids.c.batch_id)).all())
    assert ids == {"done0": "done", "done1": "done", "done2": "done"}
    assert not has_legacy_scores(store.engine)
    assert list((tmp_path / "archive" / "scores").iterdir()) == [tmp_path / "archive" / "scores" / "done"]
    dispose_all()
