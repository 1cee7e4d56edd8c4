"""The score log in tests: read the way the project reads it (DuckDB over the files committed
batches list), and written the way the bins and the commit write it."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import insert, select, update

from rendezvous import records
from rendezvous.scorelog import read as scorelog
from rendezvous.scorelog.files import MANIFEST_KEY, AttemptScores
from rendezvous.store import Store
from rendezvous.store.schema import batches


def score_rows(store: Store, where: str = "", params: list[Any] | None = None) -> pd.DataFrame:
    """batch_id, request_id, role, model_version, score, label of every committed score
    (``where``: a DuckDB condition on those columns, ``?`` for ``params``)."""
    sql = "SELECT * FROM scores" + (f" WHERE {where}" if where else "")
    return scorelog.query(store, sql, params).to_pandas()


def log_scores(
    store: Store, root: Path, batch_id: str, role: str, version: str, scored: pd.DataFrame
) -> None:
    """Scores written as a bin writes them (one more chunk of the batch's attempt 1, under
    ``root``) and listed in the batch's manifest, as its commit lists them; a batch the ledger
    does not hold yet is added, committed."""
    staged = AttemptScores(str(root), batch_id, 1)
    records.write_scores(staged, len(staged.names(role)), role, version, scored)
    with store.begin() as conn:
        row = conn.execute(select(batches.c.outputs).where(batches.c.id == batch_id)).one_or_none()
        if row is None:
            conn.execute(
                insert(batches).values(
                    id=batch_id,
                    source=f"{batch_id}.csv",
                    sha256=hashlib.sha256(batch_id.encode()).hexdigest(),
                    format="csv",
                    state="committed",
                    received_at=datetime.now(UTC),
                    finished_at=datetime.now(UTC),
                    outputs={},
                )
            )
        outputs = {**((row.outputs if row else None) or {}), MANIFEST_KEY: staged.manifest()}
        conn.execute(update(batches).where(batches.c.id == batch_id).values(outputs=outputs))
