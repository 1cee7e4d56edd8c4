"""A home made by an older version kept its scores as rows of a SQL table, ``scores``: at first
open they are written out as the committed batches' score files, listed in their manifests,
their live ids put in the scored-id table, and the table dropped once empty.

Batch by batch, each in one transaction (the rows deleted, the manifest set): a crash leaves the
remaining batches in the table for the next open, and two processes opening the home at once
migrate each batch once (the one that deletes no row sets nothing). Rows of a batch that never
committed are dropped: its next claim would have erased them, and it scores them again.
"""

from __future__ import annotations

from itertools import groupby

import pandas as pd
from sqlalchemy import Connection, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from rendezvous.scorelog.files import MANIFEST_KEY, AttemptScores
from rendezvous.store import Store
from rendezvous.store.schema import batches, scored_ids
from rendezvous.store.upgrade import LEGACY_SCORES as LEGACY_TABLE
from rendezvous.store.upgrade import has_legacy_scores

ROWS_PER_FILE = 1_000_000
_COLUMNS = "request_id, role, model_version, score, label"


def migrate_score_table(store: Store, archive_url: str, global_ids: bool) -> int:
    """Move every row of the old table into score files; the rows moved. ``global_ids``: the
    home's id scope is global, so the live ids go into the scored-id table too."""
    if not has_legacy_scores(store.engine):
        return 0
    with store.begin() as conn:
        batch_ids = list(conn.execute(text(f"SELECT DISTINCT batch_id FROM {LEGACY_TABLE}")).scalars())
    moved = sum(_migrate_batch(store, archive_url, batch_id, global_ids) for batch_id in batch_ids)
    with store.begin() as conn:
        if not conn.execute(text(f"SELECT count(*) FROM {LEGACY_TABLE}")).scalar_one():
            conn.execute(text(f"DROP TABLE {LEGACY_TABLE}"))
    return moved


def _migrate_batch(store: Store, archive_url: str, batch_id: str, global_ids: bool) -> int:
    staged = AttemptScores(archive_url, batch_id, 0)
    with store.begin() as conn:
        query = select(batches.c.state, batches.c.outputs).where(batches.c.id == batch_id)
        row = conn.execute(query).one_or_none()
        committed = row is not None and row.state == "committed"
        live_ids = _write_files(conn, staged, batch_id) if committed else []
    with store.begin() as conn:
        deleted = conn.execute(
            text(f"DELETE FROM {LEGACY_TABLE} WHERE batch_id = :batch"), {"batch": batch_id}
        ).rowcount
        if not committed or not deleted:
            return 0
        conn.execute(
            update(batches)
            .where(batches.c.id == batch_id)
            .values(outputs={**(row.outputs or {}), MANIFEST_KEY: staged.manifest()})
        )
        if global_ids and live_ids:
            _add_scored_ids(conn, store, batch_id, live_ids)
    return deleted


def _write_files(conn: Connection, staged: AttemptScores, batch_id: str) -> list[str]:
    """One ordered read of the batch's rows, written per (role, model version) in bounded files."""
    result = conn.execute(
        text(f"SELECT {_COLUMNS} FROM {LEGACY_TABLE} WHERE batch_id = :batch ORDER BY role, model_version"),
        {"batch": batch_id},
    )
    live: list[str] = []
    for (role, version), rows in groupby(result, key=lambda r: (r.role, r.model_version)):
        part, chunk = [], 0
        for r in rows:
            part.append(r)
            if len(part) == ROWS_PER_FILE:
                live += _write_part(staged, chunk, role, version, part)
                part, chunk = [], chunk + 1
        if part:
            live += _write_part(staged, chunk, role, version, part)
    return live


def _write_part(staged: AttemptScores, chunk: int, role: str, version: str, rows: list) -> list[str]:
    frame = pd.DataFrame(rows, columns=["request_id", "role", "model_version", "score", "label"])
    staged.write(chunk, role, version, frame)
    return frame["request_id"].tolist() if role == "live" else []


def _add_scored_ids(conn: Connection, store: Store, batch_id: str, ids: list[str]) -> None:
    """Ids another batch holds already stay its (an old race scored them twice: verify says so)."""
    dialect = postgresql if store.is_postgres else sqlite
    statement = dialect.insert(scored_ids).on_conflict_do_nothing(index_elements=["request_id"])
    conn.execute(statement, [{"request_id": i, "batch_id": batch_id} for i in ids])
