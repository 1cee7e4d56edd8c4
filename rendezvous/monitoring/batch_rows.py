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
from rendezvous.scorelog import read as scorelog
from rendezvous.scorelog.files import AttemptScores
from rendezvous.store import Store
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


def version_scores(
    store: Store, version: str, request_ids: list[str], staged: AttemptScores | None = None
) -> pd.Series:
    """One model's scores of these requests (any committed batch, and the attempt ``staged``),
    indexed by request id."""
    wanted = pa.table({"request_id": pa.array(request_ids, pa.string())})
    committed = scorelog.query(
        store,
        "SELECT request_id, score FROM scores WHERE model_version = ? "
        "AND request_id IN (SELECT request_id FROM wanted)",
        [version],
        wanted=wanted,
    )
    parts = [committed]
    if staged is not None:
        own = staged.read(["request_id", "model_version", "score"])
        own = own.filter(pc.and_(pc.equal(own["model_version"], version),
                                 pc.is_in(own["request_id"], value_set=wanted["request_id"])))
        parts.append(own.select(["request_id", "score"]))
    found = pa.concat_tables(parts).to_pandas()
    return pd.Series(found["score"].to_numpy("float64"), index=found["request_id"].astype("str")).groupby(
        level=0
    ).first()


def _wide(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(index=pd.Index([], name="request_id", dtype="str"))
    frame["score"] = frame["score"].astype("float64")
    return frame.pivot(index="request_id", columns="model_version", values="score")
