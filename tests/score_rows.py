"""The committed score log as rows, read the way the project reads it (DuckDB over the files
committed batches list): what tests count scores with, now that they are not a SQL table."""

from __future__ import annotations

from typing import Any

import pandas as pd

from rendezvous.scorelog import read as scorelog
from rendezvous.store import Store


def score_rows(store: Store, where: str = "", params: list[Any] | None = None) -> pd.DataFrame:
    """batch_id, request_id, role, model_version, score, label of every committed score
    (``where``: a DuckDB condition on those columns, ``?`` for ``params``)."""
    sql = "SELECT * FROM scores" + (f" WHERE {where}" if where else "")
    return scorelog.query(store, sql, params).to_pandas()
