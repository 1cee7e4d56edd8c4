"""Reading back what a batch's bins wrote: the logged (enriched) rows and the models' scores.

The log bin leaves one Parquet file per chunk; reading them one at a time, only the columns
monitoring needs, keeps memory at one chunk whatever the batch size. Scores are read from the
score log's files for a bounded sample of request ids (or the whole batch when it is small).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Connection, select

from rendezvous.batchfiles import filesystem
from rendezvous.scorelog.files import AttemptScores
from rendezvous.store.schema import lineage


def log_paths(conn: Connection, batch_id: str) -> list[str]:
    """The batch's logged chunk files, in chunk order (from the log bin's lineage records)."""
    rows = conn.execute(
        select(lineage.c.detail)
        .where(lineage.c.batch_id == batch_id, lineage.c.step == "log")
        .order_by(lineage.c.chunk, lineage.c.id)
    ).scalars()
    return [detail["path"] for detail in rows if detail and detail.get("path")]


def log_columns(path: str) -> list[str]:
    fs, local = filesystem(path)
    with fs.open(local, "rb") as handle:
        return list(pq.read_schema(handle).names)


def read_log_chunks(paths: list[str], columns: list[str]) -> Iterator[pd.DataFrame]:
    """One DataFrame per chunk file with just ``columns`` (those the file has)."""
    for path in paths:
        fs, local = filesystem(path)
        with fs.open(local, "rb") as handle:
            parquet = pq.ParquetFile(handle)
            present = [c for c in columns if c in parquet.schema_arrow.names]
            yield parquet.read(columns=present).to_pandas()


def batch_scores(staged: AttemptScores, request_ids: np.ndarray | None = None) -> pd.DataFrame:
    """Scores of the batch being monitored (its attempt's files, before the commit lists them),
    one column per model version, indexed by request id.

    ``request_ids`` None means every row of the batch; otherwise only those rows (a sample).
    """
    table = staged.read(["request_id", "model_version", "score"])
    if request_ids is not None:
        wanted = pa.array([str(i) for i in request_ids], pa.string())
        table = table.filter(pc.is_in(table["request_id"], value_set=wanted))
    return _wide(table.to_pandas())


def _wide(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(index=pd.Index([], name="request_id", dtype="str"))
    frame["score"] = frame["score"].astype("float64")
    return frame.pivot(index="request_id", columns="model_version", values="score")
