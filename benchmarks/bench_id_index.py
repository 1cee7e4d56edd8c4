"""How the check for ids scored before costs as history grows: a narrow SQL table of scored ids
(request id primary key, the batch) against a hash-partitioned Parquet id set and against sorted
runs of 64-bit id hashes merged in tiers (a log-structured set), at 1M ids a batch.

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
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BUCKETS = 64


MAX_RUNS = 8  # runs of the log-structured set before they are merged into one


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
    """Each batch adds one sorted run of its ids' 64-bit hashes (a file, memory-mapped to read);
    past MAX_RUNS runs they are merged into one. A lookup binary-searches every run: its cost is
    the batch times the number of runs (a log of the history with tiers; one tier here), and an
    add writes the batch's own run, plus a merge every MAX_RUNS batches. A real set would keep each
    id's text beside its hash and compare it on a hash match (collisions are rare, not impossible)."""
    out = []
    for batch in range(batches):
        keys = pd.util.hash_array(np.asarray(ids_of(batch, rows, random_ids), dtype=object))
        start = time.perf_counter()
        keys = np.sort(keys)  # sorted needles: each run is searched front to back (16x faster)
        for path in sorted(folder.glob("run-*.npy")):
            run = np.load(path, mmap_mode="r")
            at = np.searchsorted(run, keys).clip(max=len(run) - 1)
            np.count_nonzero(run[at] == keys)
        looked = time.perf_counter() - start
        start = time.perf_counter()
        np.save(folder / f"run-{batch:06d}.npy", keys)
        runs = sorted(folder.glob("run-*.npy"))
        if len(runs) > MAX_RUNS:
            merged = np.sort(np.concatenate([np.load(path) for path in runs]))
            np.save(folder / "run-merged.tmp.npy", merged)
            for path in runs:
                path.unlink()
            (folder / "run-merged.tmp.npy").rename(folder / f"run-{batch:06d}.npy")
        out.append((looked, time.perf_counter() - start))
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
