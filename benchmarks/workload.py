"""Batch files of the demo's schema at any size, written in 1M-row slices (bounded memory)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from rendezvous.demo.data import make_customers, make_requests

SLICE = 1_000_000


def batch_file(folder: Path, rows: int, seed: int, random_ids: bool = False) -> Path:
    """A CSV batch of ``rows`` unique requests, reused across runs when it already exists.

    Ids are ``b{rows}-{seed}-…`` by default: each batch's ids sort together, so a batch adds to
    one place of the store's id index. ``random_ids``: random UUIDs (seeded), as most systems
    send them, which spread every batch over the whole index."""
    path = folder / f"bench-{rows}-{seed}{'-uuid' if random_ids else ''}.csv"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    customers = make_customers(5000, seed=7)
    tmp = path.with_suffix(".part")
    writer = None
    for index, start in enumerate(range(0, rows, SLICE)):
        frame = make_requests(
            min(SLICE, rows - start),
            customers,
            datetime(2026, 11, 20, tzinfo=UTC),
            seed=seed * 1000 + index,
            id_prefix=f"b{rows}-{seed}-{index}",
        )
        if random_ids:
            frame["request_id"] = _uuids(len(frame), seed * 1000 + index)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pacsv.CSVWriter(str(tmp), table.schema)
        writer.write_table(table)
    if writer:
        writer.close()
    tmp.rename(path)
    return path


def _uuids(count: int, seed: int) -> list[str]:
    raw = np.random.default_rng(seed).bytes(16 * count)
    return [str(uuid.UUID(bytes=raw[k : k + 16], version=4)) for k in range(0, len(raw), 16)]
