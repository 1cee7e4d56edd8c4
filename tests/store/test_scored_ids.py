"""The scored-id set is what makes "scored once across batches" hold under concurrent workers: a
batch committing an id another batch committed meanwhile fails, naming why, and adds nothing;
a hash shared by two ids never makes one look scored; merged runs find what their inputs held."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from at_once import at_once
from sqlalchemy import select

from rendezvous import records
from rendezvous.scorelog import scored_ids
from rendezvous.scorelog.files import AttemptScores
from rendezvous.scorelog.scored_ids import ScoredBefore, ScoredIds
from rendezvous.store import Store
from rendezvous.store.schema import id_runs, quarantine

HOSTILE = ["a,b", 'say "hi"', "line\nbreak", "", " padded ", "émoji 🍷", "NULL", "\\N", "\u2028", "x" * 600]


def _staged(root: Path, batch_id: str, ids: list[str]) -> AttemptScores:
    staged = AttemptScores(str(root), batch_id, 1)
    scored = pd.DataFrame({"request_id": ids, "score": 0.5, "label": "1"})
    records.write_scores(staged, 0, "live", "L1", scored)
    return staged


def _held(found: scored_ids.Found) -> dict[str, str]:
    return dict(zip(found.request_ids.to_pylist(), found.batch_ids.to_pylist(), strict=True))


def test_an_id_committed_by_another_batch_fails_the_commit(database_url: str, tmp_path: Path) -> None:
    store = Store(database_url)
    ids = ScoredIds(store, str(tmp_path))
    with store.begin() as conn:
        records.record_scored_ids(ids, conn, "a", _staged(tmp_path, "a", ["1", "2"]))
    with pytest.raises(records.ScoredMeanwhile, match="another batch committed"), store.begin() as conn:
        records.record_scored_ids(ids, conn, "b", _staged(tmp_path, "b", ["3", "2"]))
    assert _held(ids.find(pa.array(["1", "2", "3"]))) == {"1": "a", "2": "a"}
    assert ids.survey().per_batch == {"a": 2}
    staged = _staged(tmp_path, "b", ["3"])  # b's attempt scored 3 in an earlier chunk
    seen_here, seen_elsewhere = records.seen_before(store, staged, pd.Series(["2", "3", "4"]), scored=ids)
    assert seen_here.tolist() == [False, True, False] and seen_elsewhere.tolist() == [True, False, False]


def test_ids_that_share_a_hash_are_told_apart_by_their_text(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a hash that collides everywhere (four values), only the same text is found."""
    real = scored_ids.id_hashes
    monkeypatch.setattr(scored_ids, "id_hashes", lambda ids: real(ids) % np.uint64(4))
    store = Store(database_url)
    ids = ScoredIds(store, str(tmp_path))
    with store.begin() as conn:
        ids.add(conn, "first", pa.array(HOSTILE[::2]), str(tmp_path / "first"))
    with store.begin() as conn:
        added = ids.add(conn, "second", pa.array(HOSTILE[1::2]), str(tmp_path / "second"))
    assert added == len(HOSTILE[1::2])
    wanted = [*HOSTILE, "never", "a,c", "émoji"]
    assert _held(ids.find(pa.array(wanted))) == {
        text: "first" if n % 2 == 0 else "second" for n, text in enumerate(HOSTILE)
    }
    with pytest.raises(ScoredBefore, match="1 ids were scored already, by second"), store.begin() as conn:
        ids.add(conn, "third", pa.array(["fresh", HOSTILE[3]]), str(tmp_path / "third"))
    given = ["new", "repeated,1", "other", "more", "repeated,1"]  # mod 4, equal hashes need not be adjacent
    with pytest.raises(ValueError, match="request id 'repeated,1' is given twice"), store.begin() as conn:
        ids.add(conn, "fourth", pa.array(given), str(tmp_path / "fourth"))
    assert ids.survey().per_batch == {"first": len(HOSTILE[::2]), "second": len(HOSTILE[1::2])}


def test_merged_runs_find_what_their_runs_held_and_replace_them(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scored_ids, "FANOUT", 2)
    monkeypatch.setattr(scored_ids, "SLICE_ROWS", 7)  # a merge writes its ranges one at a time
    store = Store(database_url)
    ids = ScoredIds(store, str(tmp_path / "archive"))
    batches = {f"b{n}": [f"{n}-{i}" for i in range(50)] + [f"shared text {n}"] for n in range(5)}
    rewritten = []
    for batch_id, batch in batches.items():
        folder = tmp_path / "archive" / "scores" / batch_id
        with store.begin() as conn:
            ids.add(conn, batch_id, pa.array(batch), str(folder))
        rewritten.append(ids.merge())
    # levels: b0+b1 -> 1; b2+b3 -> 1, then both level-1 runs -> 2; b4 stays alone
    assert rewritten == [0, 102, 0, 102 + 204, 0]
    assert sorted(level for _, level in _levels(store)) == [0, 2]
    every = {request_id: batch_id for batch_id, batch in batches.items() for request_id in batch}
    assert _held(ids.find(pa.array([*every, "5-0"]))) == every
    assert ids.survey().per_batch == {batch_id: 51 for batch_id in batches}
    assert ids.survey().problems == []
    files = {p.name for p in (tmp_path / "archive").rglob("*.arrow")}
    assert len(files) == 2  # the merged runs' inputs are gone


def _levels(store: Store) -> list[tuple[str, int]]:
    with store.begin() as conn:
        return [tuple(row) for row in conn.execute(select(id_runs.c.url, id_runs.c.level))]


def test_two_commits_of_one_id_at_once_add_it_once(database_url: str, tmp_path: Path) -> None:
    """Whatever the interleaving, one of two concurrent commits holding a shared id fails."""
    store = Store(database_url)
    ids = ScoredIds(store, str(tmp_path))
    outcomes: dict[str, str] = {}

    def commit(batch_id: str) -> None:
        batch = [f"{batch_id}-{i}" for i in range(20_000)] + ["shared"]
        try:
            with store.begin() as conn:
                ids.add(conn, batch_id, pa.array(batch), str(tmp_path / batch_id))
            outcomes[batch_id] = "committed"
        except ScoredBefore:
            outcomes[batch_id] = "refused"

    assert at_once(lambda: commit("left"), lambda: commit("right")) == []
    assert sorted(outcomes.values()) == ["committed", "refused"]
    winner = next(name for name, outcome in outcomes.items() if outcome == "committed")
    assert ids.survey().per_batch == {winner: 20_001}
    assert _held(ids.find(pa.array(["shared"]))) == {"shared": winner}


@pytest.mark.parametrize("filler", [0, 40], ids=["fewer-ids-than-lines", "more-ids-than-lines"])
def test_an_id_the_batch_quarantined_as_sent_is_seen_however_it_is_looked_up(
    database_url: str, tmp_path: Path, filler: int
) -> None:
    """Joined with the ids sent, or fetched as the batch's lines: the same answer either way,
    and an id the store had to alter (cut, NUL spelled out) is not the id that was sent."""
    store = Store(database_url)
    held = [f'held {n}, "quoted"' for n in range(10)]
    lines = pd.DataFrame({"request_id": [*held, "cut"], "rule": ["some_rule"] * 10 + [records.ID_TOO_LONG]})
    other = pd.DataFrame({"request_id": ["elsewhere"], "rule": ["some_rule"]})
    with store.begin() as conn:
        store.bulk_insert(conn, quarantine, lines, {"batch_id": "b"})
        store.bulk_insert(conn, quarantine, other, {"batch_id": "other"})
    staged = _staged(tmp_path, "b", ["scored"])
    asked = [held[3], "cut", "scored", "elsewhere", *(f"new {n}" for n in range(filler))]
    here, _ = records.seen_before(store, staged, pd.Series(asked))
    assert here.tolist() == [True, False, True, False] + [False] * filler


def test_a_run_that_is_gone_stops_the_lookup_naming_it(database_url: str, tmp_path: Path) -> None:
    """Deleting a run must not let its ids be scored again: every lookup fails until it is back."""
    store = Store(database_url)
    ids = ScoredIds(store, str(tmp_path))
    with store.begin() as conn:
        ids.add(conn, "a", pa.array(["1", "2"]), str(tmp_path / "a"))
    run = tmp_path / "a" / scored_ids.RUN_FILE
    run.rename(tmp_path / "elsewhere")
    with pytest.raises(scored_ids.MissingRun, match="no batch is scored until it is restored"):
        ids.find(pa.array(["2"]))
    (tmp_path / "elsewhere").rename(run)
    assert _held(ids.find(pa.array(["2"]))) == {"2": "a"}


def test_two_merges_at_once_leave_every_id_in_the_set_once(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers merge after their commits: whichever swaps first wins, the other gives way."""
    monkeypatch.setattr(scored_ids, "FANOUT", 2)
    store = Store(database_url)
    ids = ScoredIds(store, str(tmp_path / "archive"))
    batches = {f"b{n}": [f"{n}-{i}" for i in range(3000)] for n in range(3)}
    for batch_id, batch in batches.items():
        with store.begin() as conn:
            ids.add(conn, batch_id, pa.array(batch), str(tmp_path / batch_id))
    assert at_once(ids.merge, ids.merge) == []
    assert ids.survey().per_batch == {batch_id: 3000 for batch_id in batches}
    assert ids.survey().problems == []
    every = {request_id: batch_id for batch_id, batch in batches.items() for request_id in batch}
    assert _held(ids.find(pa.array(list(every)))) == every
    assert len(ids.run_urls()) == 1  # the three runs of level 0 merged once, by one of the two
