"""Realized performance: once labels arrive, how well each model role actually did.

Scores (per role, as the batch was scored, from the score log) joined with the ``labels`` table
by request id, per batch, day or week, with the number of labelled rows behind every figure. Days
and weeks are request time (the dev copy's date partition, filed by the timestamp column) when a timestamp
column is set, scoring time otherwise: a backfill of months is not one day. Classifiers: ROC AUC,
log loss, accuracy and the observed positive rate; regressors: RMSE, MAE and R². Computed by
``rendezvous.metrics``, as promotion's figures are, on outcomes and labels stored in the
model's class spelling; the positive class is the one recorded at registration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import pandas as pd
import pyarrow.dataset as pads
from pyarrow.fs import FSSpecHandler, PyFileSystem
from sqlalchemy import select

from rendezvous.batchfiles import filesystem
from rendezvous.classes import recorded_classes
from rendezvous.metrics import figures
from rendezvous.promotion.dataset import PARTITION_COLUMN
from rendezvous.promotion.labels import load_labels
from rendezvous.registry import Registry
from rendezvous.scorelog import read as scorelog
from rendezvous.store import Store
from rendezvous.store.schema import batches, models

Window = Literal["batch", "day", "week"]
COLUMNS = [
    "window",
    "at",
    "role",
    "model_version",
    "kind",
    "n",
    "roc_auc",
    "log_loss",
    "accuracy",
    "positive_rate",
    "rmse",
    "mae",
    "r2",
]


def labelled_scores(store: Store, since: datetime | None = None) -> pd.DataFrame:
    """Every score of a committed batch whose request has a label, with the batch's time.

    The labels and the batches are read from SQL, the scores from the score log (only the
    files of the batches finished since ``since``), joined in DuckDB."""
    batch_query = select(batches.c.id, batches.c.source, batches.c.finished_at).where(
        batches.c.state == "committed"
    )
    if since is not None:
        batch_query = batch_query.where(batches.c.finished_at >= since)
    with store.begin() as conn:
        ledger = pd.DataFrame(conn.execute(batch_query).all(), columns=["batch_id", "source", "finished_at"])
    frame = scorelog.query(
        store,
        "SELECT s.batch_id, s.request_id, b.source, b.finished_at, s.role, s.model_version, s.score, "
        "s.label, l.outcome FROM scores s JOIN known l ON l.request_id = s.request_id "
        "JOIN ledger b ON b.batch_id = s.batch_id",
        batch_ids=ledger["batch_id"].tolist(),
        known=load_labels(store),
        ledger=ledger.assign(finished_at=pd.to_datetime(ledger["finished_at"], utc=True)),
    ).to_pandas()
    frame["finished_at"] = pd.to_datetime(frame["finished_at"], utc=True)
    frame["score"] = frame["score"].astype("float64")
    return frame


def request_days(dev_url: str, id_column: str) -> pd.Series:
    """Request id -> its request day (UTC), from the dev copy's date partitions (two columns read)."""
    fs, root = filesystem(dev_url)
    if not fs.exists(root):
        return pd.Series(dtype="datetime64[ns, UTC]")
    dataset = pads.dataset(
        root, format="parquet", partitioning="hive", filesystem=PyFileSystem(FSSpecHandler(fs))
    )
    if id_column not in dataset.schema.names or PARTITION_COLUMN not in dataset.schema.names:
        return pd.Series(dtype="datetime64[ns, UTC]")
    table = dataset.to_table(columns=[id_column, PARTITION_COLUMN]).to_pandas()
    days = pd.to_datetime(table[PARTITION_COLUMN].astype("str"), utc=True, errors="coerce")
    return pd.Series(days.to_numpy(), index=table[id_column].astype("str")).groupby(level=0).last()


def realized_performance(
    store: Store,
    since: datetime | None = None,
    by: Window = "batch",
    request_time: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per (window, role, model version): the figures and the labelled rows behind them.

    Days and weeks are each request's day in ``request_time`` (request id -> UTC time) when
    given, else the day its batch was scored."""
    frame = labelled_scores(store, since)
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    with store.begin() as conn:
        kinds = dict(conn.execute(select(models.c.version, models.c.kind)).all())
    # Reading records and loading files: models_dir is used only to register.
    classes = recorded_classes(Registry(store, models_dir=""), frame["model_version"].unique())
    if by == "batch":
        frame["window"] = frame["source"]
        frame["at"] = frame.groupby("batch_id")["finished_at"].transform("max")
    else:
        at = frame["finished_at"]
        if request_time is not None:
            at = frame["request_id"].map(request_time).fillna(at)
        day = pd.to_datetime(at, utc=True).dt.floor("D")
        frame["at"] = day if by == "day" else day - pd.to_timedelta(day.dt.weekday, unit="D")
        frame["window"] = frame["at"].dt.strftime("%Y-%m-%d" if by == "day" else "week of %Y-%m-%d")
    out = []
    for (window, at, role, version), group in frame.groupby(
        ["window", "at", "role", "model_version"], sort=False
    ):
        known = classes[version]
        found = figures(
            kinds[version],
            group["outcome"],
            group["score"],
            group["label"],
            known.positive if known else None,
        )
        n = found.pop("rows")
        out.append(
            {
                "window": window,
                "at": at,
                "role": role,
                "model_version": version,
                "kind": kinds[version],
                "n": n,
                **found,
            }
        )
    result = pd.DataFrame(out).reindex(columns=COLUMNS)
    figure_columns = COLUMNS[COLUMNS.index("roc_auc") :]
    result[figure_columns] = result[figure_columns].astype("float64")  # a missing figure is NaN
    return result.sort_values(["at", "role", "model_version"], ignore_index=True)
