"""One attempt's score files: written by the bins, counted and read by the commit and the monitor.

Names are fixed by (role, model version, chunk), so a bin retried within its attempt overwrites
its own file; each attempt writes under its own folder, so a run that lost its lease (a zombie)
never writes into the files the new owner commits.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rendezvous.batchfiles import filesystem, join

_ONE_VALUE = pa.dictionary(pa.int32(), pa.string())  # batch, role, model: one value per file
SCHEMA = pa.schema(
    [
        ("batch_id", _ONE_VALUE),
        ("request_id", pa.string()),
        ("role", _ONE_VALUE),
        ("model_version", _ONE_VALUE),
        ("score", pa.float64()),
        ("label", pa.string()),
        ("error", pa.string()),  # what the model raised on the row (no score then); else null
    ]
)
_DICTIONARY = ["batch_id", "role", "model_version", "label"]  # not the ids: each is unique
MANIFEST_KEY = "score_log"  # in the ledger's outputs: {"url": folder, "files": [names]}


def log_root(archive_url: str) -> str:
    """Where the score log lives: beside the raw archive and the request log."""
    return join(archive_url, "scores")


def file_name(role: str, version: str, chunk: int) -> str:
    """``<role>-<sha of the version>-<chunk>``: a version is free text, a file name is not."""
    return f"{role}-{hashlib.sha256(version.encode()).hexdigest()[:16]}-{chunk:06d}.parquet"


def write_file(url: str, table: pa.Table) -> None:
    """One file, atomically (temporary name, then rename)."""
    fs, path = filesystem(url)
    fs.makedirs(fs._parent(path), exist_ok=True)
    with fs.open(f"{path}.tmp", "wb") as handle:
        pq.write_table(table, handle, use_dictionary=_DICTIONARY)
    fs.mv(f"{path}.tmp", path)


def as_table(batch_id: str, role: str, version: str, scored: pd.DataFrame) -> pa.Table:
    """Scores (request_id, score, label, and error where the model raised) with their batch, role
    and model as columns (dictionary encoded: one value and n indexes, not n strings)."""
    n = len(scored)
    if "error" not in scored:
        scored = scored.assign(error=None)
    own = pa.Table.from_pandas(
        scored[["request_id", "score", "label", "error"]].astype(
            {"request_id": "str", "score": "float64", "error": "object"}
        ),
        preserve_index=False,
    )

    def constant(value: str) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value], pa.string()))

    label, error = (
        own[name] if own[name].type != pa.null() else pa.nulls(n, pa.string()) for name in ("label", "error")
    )
    columns = [constant(batch_id), own["request_id"], constant(role), constant(version), own["score"]]
    columns += [label, error]
    return pa.Table.from_arrays(columns, names=SCHEMA.names).cast(SCHEMA)


class AttemptScores:
    """The score files one attempt at one batch staged."""

    def __init__(self, archive_url: str, batch_id: str, attempt: int) -> None:
        self.batch_id = batch_id
        self.batch_url = join(log_root(archive_url), batch_id)
        self.url = join(self.batch_url, f"attempt-{attempt}")

    def write(self, chunk: int, role: str, version: str, scored: pd.DataFrame) -> int:
        table = as_table(self.batch_id, role, version, scored)
        write_file(join(self.url, file_name(role, version, chunk)), table)
        return len(scored)

    def names(self, role: str | None = None) -> list[str]:
        fs, path = filesystem(self.url)
        if not fs.exists(path):
            return []
        found = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(path, detail=False))
        return [n for n in found if n.endswith(".parquet") and (role is None or n.startswith(f"{role}-"))]

    def read(self, columns: list[str], role: str | None = None) -> pa.Table:
        fs, _ = filesystem(self.url)
        tables = []
        for name in self.names(role):
            with fs.open(filesystem(join(self.url, name))[1], "rb") as handle:
                tables.append(pq.read_table(handle, columns=columns))
        return pa.concat_tables(tables) if tables else SCHEMA.empty_table().select(columns)

    def count(self, role: str = "live") -> int:
        fs, _ = filesystem(self.url)
        total = 0
        for name in self.names(role):
            with fs.open(filesystem(join(self.url, name))[1], "rb") as handle:
                total += pq.ParquetFile(handle).metadata.num_rows
        return total

    def manifest(self) -> dict[str, object]:
        """What the ledger lists at commit: the folder and its files (the reader lists nothing)."""
        return {"url": self.url, "files": self.names()}

    def reset(self) -> None:
        """Forget every attempt's files for this batch (a new claim, a rejection, a failure)."""
        fs, path = filesystem(self.batch_url)
        if fs.exists(path):
            fs.rm(path, recursive=True)
