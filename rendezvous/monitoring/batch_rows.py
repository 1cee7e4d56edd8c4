"""Reading back what a batch's bins wrote: the logged (enriched) rows and the models' scores.

The log bin leaves one Parquet file per chunk; reading them one at a time, only the columns
monitoring needs, keeps memory at one chunk whatever the batch size. Scores are looked up for a
bounded sample of request ids (or the whole batch when it is small).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy import Connection, select

from rendezvous.batchfiles import filesystem
from rendezvous.store import Store
from rendezvous.store.schema import lineage, scores

ID_SLICE = 5_000  # ids per IN (...) lookup, as records.already_scored does


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


def batch_scores(store: Store, batch_id: str, request_ids: np.ndarray | None = None) -> pd.DataFrame:
    """Scores of a batch, one column per model version, indexed by request id.

    ``request_ids`` None means every row of the batch; otherwise only those rows (a sample).
    """
    columns = (scores.c.request_id, scores.c.model_version, scores.c.score, scores.c.batch_id)
    parts = []
    with store.begin() as conn:
        if request_ids is None:
            parts.append(conn.execute(select(*columns).where(scores.c.batch_id == batch_id)).all())
        else:
            # By id alone, so the (request_id, role, model_version) index answers: with the
            # batch id in the query SQLite scans the batch's rows once per slice instead.
            ids = [str(i) for i in request_ids]
            for start in range(0, len(ids), ID_SLICE):
                part = ids[start : start + ID_SLICE]
                parts.append(conn.execute(select(*columns).where(scores.c.request_id.in_(part))).all())
    frame = pd.DataFrame(
        [row for part in parts for row in part],
        columns=["request_id", "model_version", "score", "batch_id"],
    )
    frame = frame[frame["batch_id"] == batch_id]
    if frame.empty:
        return pd.DataFrame(index=pd.Index([], name="request_id", dtype="str"))
    frame["score"] = frame["score"].astype("float64")
    return frame.pivot(index="request_id", columns="model_version", values="score")


def version_scores(store: Store, version: str, request_ids: list[str]) -> pd.Series:
    """One model's scores of these requests (any batch), indexed by request id."""
    found: dict[str, float] = {}
    with store.begin() as conn:
        for start in range(0, len(request_ids), ID_SLICE):
            part = request_ids[start : start + ID_SLICE]
            query = select(scores.c.request_id, scores.c.score).where(
                scores.c.model_version == version, scores.c.request_id.in_(part)
            )
            found.update({rid: score for rid, score in conn.execute(query).all()})
    return pd.Series(found, dtype="float64")
