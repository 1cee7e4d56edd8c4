"""The scored-id table is what makes "scored once across batches" hold under concurrent workers:
a batch committing an id another batch committed meanwhile fails, naming why, and adds nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from rendezvous import records
from rendezvous.scorelog.files import AttemptScores
from rendezvous.store import Store
from rendezvous.store.schema import scored_ids


def _staged(root: Path, batch_id: str, ids: list[str]) -> AttemptScores:
    staged = AttemptScores(str(root), batch_id, 1)
    scored = pd.DataFrame({"request_id": ids, "score": 0.5, "label": "1"})
    records.write_scores(staged, 0, "live", "L1", scored)
    return staged


def test_an_id_committed_by_another_batch_fails_the_commit(database_url: str, tmp_path: Path) -> None:
    store = Store(database_url)
    with store.begin() as conn:
        records.record_scored_ids(store, conn, "a", _staged(tmp_path, "a", ["1", "2"]))
    with pytest.raises(records.ScoredMeanwhile, match="another batch committed"), store.begin() as conn:
        records.record_scored_ids(store, conn, "b", _staged(tmp_path, "b", ["3", "2"]))
    with store.begin() as conn:
        held = dict(conn.execute(select(scored_ids.c.request_id, scored_ids.c.batch_id)).all())
    assert held == {"1": "a", "2": "a"}
    staged = _staged(tmp_path, "b", ["3"])  # b's attempt scored 3 in an earlier chunk
    seen_here, seen_elsewhere = records.seen_before(store, staged, pd.Series(["2", "3", "4"]))
    assert seen_here.tolist() == [False, True, False] and seen_elsewhere.tolist() == [True, False, False]
