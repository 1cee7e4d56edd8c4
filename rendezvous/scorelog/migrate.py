"""A home made by an older version kept its scores as rows of a SQL table, ``scores``: at first
open they are written out as the committed batches' score files, listed in their manifests,
their live ids put in the scored-id set, and the table dropped once empty. A later version kept
the scored ids in a SQL table, ``scored_ids``: it becomes one run of the set, named in the
transaction that drops it.

Batch by batch, each in one transaction (the rows deleted, the manifest set): a crash leaves the
remaining batches in the table for the next open, and two processes opening the home at once
migrate each batch once (the one that deletes no row sets nothing). Rows of a batch that never
committed are dropped: its next claim would have erased them, and it scores them again.
"""

from __future__ import annotations

from itertools import groupby

import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection, column, inspect, select, table, text, update

from rendezvous.scorelog.files import MANIFEST_KEY, AttemptScores
from rendezvous.scorelog.scored_ids import ScoredIds, as_run, lock, remove
from rendezvous.store import Store
from rendezvous.store.schema import batches
from rendezvous.store.upgrade import LEGACY_SCORED_IDS, legacy_tables
from rendezvous.store.upgrade import LEGACY_SCORES as LEGACY_TABLE

ROWS_PER_FILE = 1_000_000
_COLUMNS = "request_id, role, model_version, score, label"


def migrate_legacy_tables(store: Store, archive_url: str, global_ids: bool) -> int:
    """Move the old tables' rows into files; the scores moved. ``global_ids``: the home's id
    scope is global, so the live ids go into the scored-id set too."""
    found = legacy_tables(store.engine)
    scored = ScoredIds(store, archive_url)
    if LEGACY_SCORED_IDS in found:
        migrate_scored_id_table(store, scored)
    if LEGACY_TABLE not in found:
        return 0
    with store.begin() as conn:
        batch_ids = list(conn.execute(text(f"SELECT DISTINCT batch_id FROM {LEGACY_TABLE}")).scalars())
    moved = sum(
        _migrate_batch(store, archive_url, batch_id, scored if global_ids else None) for batch_id in batch_ids
    )
    with store.begin() as conn:
        if not conn.execute(text(f"SELECT count(*) FROM {LEGACY_TABLE}")).scalar_one():
            conn.execute(text(f"DROP TABLE {LEGACY_TABLE}"))
    return moved


def _migrate_batch(store: Store, archive_url: str, batch_id: str, scored: ScoredIds | None) -> int:
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
        if scored is not None and live_ids:  # ids another batch holds stay its: verify names the race
            scored.add(conn, batch_id, pa.array(live_ids, pa.string()), staged.url, keep_earlier=True)
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


def migrate_scored_id_table(store: Store, scored: ScoredIds) -> int:
    """The old scored-id table as one run; the ids moved. Two processes opening the home at once:
    the one that finds the table gone drops its run."""
    with store.begin() as conn:
        held = store.arrow(
            conn,
            select(column("request_id"), column("batch_id")).select_from(table(LEGACY_SCORED_IDS)),
            pa.schema([("request_id", pa.string()), ("batch_id", pa.string())]),
        )
    url = scored.write_merged([as_run(held.column("request_id"), held.column("batch_id"))])
    with store.begin() as conn:
        lock(conn)
        if not inspect(conn).has_table(LEGACY_SCORED_IDS):
            remove([url])
            return 0
        scored.name_run(conn, url, level=1, rows=len(held))
        conn.execute(text(f"DROP TABLE {LEGACY_SCORED_IDS}"))
    return len(held)
