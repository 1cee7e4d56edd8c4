"""How the check for ids scored before costs as history grows: a narrow SQL table of scored ids
(request id primary key, the batch: what the commit used before) against a hash-partitioned
Parquet id set and against the set the commit uses now, runs of 64-bit id hashes beside the ids,
merged in tiers (``rendezvous.scorelog.scored_ids``), at 1M ids a batch.

    .venv/bin/python benchmarks/bench_id_index.py [--rows 1000000] [--batches 5] [--random-ids]
        [--only sqlite|hashed|runs ...]

Per batch: seconds to look up the batch's ids and to add them. ``--random-ids``: random UUIDs,
which spread each batch over the whole key range (the default ids sort by batch). The SQLite
table is written as the commit writes it (sorted, one JSON array, one transaction). Small by
default; not in tests.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script

from rendezvous.scorelog.scored_ids import ScoredIds
from rendezvous.store import Store
from rendezvous.store.engine import dispose_all

BUCKETS = 64


def ids_of(batch: int, rows: int, random_ids: bool) -> list[str]:
    if not random_ids:
        return [f"req-{batch}-{i}" for i in range(rows)]
    raw = np.random.default_rng(batch).bytes(16 * rows)
    return [str(uuid.UUID(bytes=raw[k : k + 16], version=4)) for k in range(0, len(raw), 16)]


def sqlite_series(folder: Path, rows: int, batches: int, random_ids: bool) -> list[tuple[float, float]]:
    db = sqlite3.connect(folder / "ids.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE scored_ids (request_id TEXT PRIMARY KEY, batch_id TEXT NOT NULL) WITHOUT ROWID")
    out = []
    for batch in range(batches):
        ids = sorted(ids_of(batch, rows, random_ids))
        payload = json.dumps(ids)
        start = time.perf_counter()
        db.execute("CREATE TEMP TABLE IF NOT EXISTS c (request_id TEXT)")
        db.execute("DELETE FROM c")
        db.execute("INSERT INTO c SELECT value FROM json_each(?)", [payload])
        db.execute("SELECT s.request_id FROM c JOIN scored_ids s ON s.request_id = c.request_id").fetchall()
        looked = time.perf_counter() - start
        start = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO scored_ids SELECT value, ? FROM json_each(?)", [f"batch-{batch}", payload])
        db.execute("COMMIT")
        out.append((looked, time.perf_counter() - start))
    return out


def runs_series(folder: Path, rows: int, batches: int, random_ids: bool) -> list[tuple[float, float]]:
    """The set the commit uses (``rendezvous.scorelog.scored_ids``) over a SQLite store: a lookup
    as a chunk's check does, then an add as the commit does (under the set's lock, looking the ids
    up again) followed by the merges that are due (every FANOUT runs of a level)."""
    store = Store(f"sqlite:///{folder / 'runs.db'}")
    scored = ScoredIds(store, str(folder / "archive"))
    out = []
    for batch in range(batches):
        ids = pa.array(ids_of(batch, rows, random_ids))
        start = time.perf_counter()
        scored.find(ids)
        looked = time.perf_counter() - start
        start = time.perf_counter()
        with store.begin() as conn:
            scored.add(conn, f"batch-{batch}", ids, str(folder / "archive" / f"batch-{batch}"))
        scored.merge()
        out.append((looked, time.perf_counter() - start))
    dispose_all()
    return out


def hashed_series(folder: Path, rows: int, batches: int, random_ids: bool) -> list[tuple[float, float]]:
    """One file per (bucket, batch): a lookup reads its buckets' files of every earlier batch."""
    out = []
    for batch in range(batches):
        ids = pa.array(ids_of(batch, rows, random_ids))
        key = pd.util.hash_array(np.asarray(ids.to_pylist(), dtype=object)) % BUCKETS
        start = time.perf_counter()
        for bucket in range(BUCKETS):
            files = sorted((folder / f"b={bucket}").glob("*.parquet"))
            if files:
                seen = pa.concat_arrays([pq.read_table(f)["request_id"].combine_chunks() for f in files])
                pc.is_in(ids.filter(pa.array(key == bucket)), value_set=seen)
        looked = time.perf_counter() - start
        start = time.perf_counter()
        for bucket in range(BUCKETS):
            (folder / f"b={bucket}").mkdir(exist_ok=True)
            part = pa.table({"request_id": ids.filter(pa.array(key == bucket))})
            pq.write_table(part, folder / f"b={bucket}" / f"batch-{batch}.parquet")
        out.append((looked, time.perf_counter() - start))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--random-ids", action="store_true")
    parser.add_argument("--only", nargs="+", choices=list(SERIES), default=list(SERIES))
    args = parser.parse_args()
    for name in args.only:
        with tempfile.TemporaryDirectory() as tmp:
            series = SERIES[name](Path(tmp), args.rows, args.batches, args.random_ids)
            for batch, (looked, added) in enumerate(series):
                print(f"{name}: batch {batch + 1}: lookup {looked:.2f} s, add {added:.2f} s", flush=True)


SERIES = {"sqlite": sqlite_series, "hashed": hashed_series, "runs": runs_series}


if __name__ == "__main__":
    main()
