"""How the check for ids scored before costs as history grows: a narrow SQL table of scored ids
(request id primary key, the batch) against a hash-partitioned Parquet id set, at 1M ids a batch.

    .venv/bin/python benchmarks/bench_id_index.py [--rows 1000000] [--batches 5]

Per batch: seconds to look up the batch's ids and to add them. Small by default; not in tests.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BUCKETS = 64


def ids_of(batch: int, rows: int) -> list[str]:
    return [f"req-{batch}-{i}" for i in range(rows)]


def sqlite_series(folder: Path, rows: int, batches: int) -> list[tuple[float, float]]:
    db = sqlite3.connect(folder / "ids.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE scored_ids (request_id TEXT PRIMARY KEY, batch_id TEXT NOT NULL) WITHOUT ROWID")
    out = []
    for batch in range(batches):
        ids = ids_of(batch, rows)
        start = time.perf_counter()
        db.execute("CREATE TEMP TABLE IF NOT EXISTS c (request_id TEXT)")
        db.execute("DELETE FROM c")
        db.executemany("INSERT INTO c VALUES (?)", zip(ids))
        db.execute("SELECT s.request_id FROM c JOIN scored_ids s ON s.request_id = c.request_id").fetchall()
        looked = time.perf_counter() - start
        start = time.perf_counter()
        with db:
            db.executemany("INSERT INTO scored_ids VALUES (?, ?)", ((i, f"batch-{batch}") for i in ids))
        out.append((looked, time.perf_counter() - start))
    return out


def hashed_series(folder: Path, rows: int, batches: int) -> list[tuple[float, float]]:
    """One file per (bucket, batch): a lookup reads its buckets' files of every earlier batch."""
    out = []
    for batch in range(batches):
        ids = pa.array(ids_of(batch, rows))
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
    args = parser.parse_args()
    for name, series in (("sqlite scored_ids", sqlite_series), ("hashed parquet set", hashed_series)):
        with tempfile.TemporaryDirectory() as tmp:
            for batch, (looked, added) in enumerate(series(Path(tmp), args.rows, args.batches)):
                print(f"{name}: batch {batch + 1}: lookup {looked:.2f} s, add {added:.2f} s")


if __name__ == "__main__":
    main()
