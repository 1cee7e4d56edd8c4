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
from typing import TYPE_CHECKING, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from pyarrow.fs import FSSpecHandler, PyFileSystem
from sqlalchemy import select

from rendezvous.batchfiles import filesystem
from rendezvous.classes import recorded_classes
from rendezvous.metrics import figures
from rendezvous.promotion.dataset import PARTITION_COLUMN
from rendezvous.promotion.labels import labels_table
from rendezvous.registry import Registry
from rendezvous.scorelog import read as scorelog
from rendezvous.store import Store
from rendezvous.store.schema import batches, models

if TYPE_CHECKING:
    from rendezvous.scorelog.scored_ids import ScoredIds

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


_LEDGER = pa.schema(
    [("batch_id", pa.string()), ("source", pa.string()), ("finished_at", pa.timestamp("us", tz="UTC"))]
)
_DAYS = pa.schema([("request_id", pa.string()), ("day", pa.timestamp("us", tz="UTC"))])
_LABELLED = """
SELECT s.batch_id, b.source, b.finished_at, {requested} AS requested, s.role, s.model_version,
       s.score, s.label, l.outcome
FROM scores s JOIN known l USING (request_id) JOIN ledger b USING (batch_id) {days}
"""


def labelled_scores(
    store: Store,
    since: datetime | None = None,
    request_time: pa.Table | None = None,
    scored: ScoredIds | None = None,
) -> pd.DataFrame:
    """Every score of a committed batch whose request has a label, with the batch's time and,
    given ``request_time`` (request_days), the request's day (``requested``, else null). Given
    the home's scored-id set, only the batches it names for the labelled ids are read.

    Labels, ledger and days go to DuckDB as Arrow with typed columns (handed over as pandas
    object columns, the join of 20M scores took 28 s, as Arrow 0.4 s); text comes back as
    categories: a frame of millions of rows holds each model's name once."""
    batch_query = select(batches.c.id, batches.c.source, batches.c.finished_at).where(
        batches.c.state == "committed"
    )
    if since is not None:
        batch_query = batch_query.where(batches.c.finished_at >= since)
    with store.begin() as conn:
        ledger = pa.Table.from_pylist(
            [dict(zip(_LEDGER.names, row, strict=True)) for row in conn.execute(batch_query).all()], _LEDGER
        )
    known = labels_table(store)
    batch_ids = ledger["batch_id"].to_pylist()
    holding = scored.batches_of(known["request_id"]) if scored is not None else None
    if holding is not None:
        batch_ids = sorted(set(batch_ids).intersection(holding))
    days = request_time is not None
    table = scorelog.query(
        store,
        _LABELLED.format(
            requested="d.day" if days else "NULL::TIMESTAMPTZ",
            days="LEFT JOIN days d USING (request_id)" if days else "",
        ),
        batch_ids=batch_ids,
        known=known,
        ledger=ledger,
        **({"days": request_time} if days else {}),
    )
    frame = table.to_pandas(strings_to_categorical=True)
    for column in ("finished_at", "requested"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["score"] = frame["score"].astype("float64")
    return frame


def request_days(dev_url: str, id_column: str) -> pa.Table:
    """Request id -> its request day (UTC), from the dev copy's date partitions (two columns
    read, in Arrow): a request filed twice keeps its latest day."""
    fs, root = filesystem(dev_url)
    if not fs.exists(root):
        return _DAYS.empty_table()
    dataset = pads.dataset(
        root, format="parquet", partitioning="hive", filesystem=PyFileSystem(FSSpecHandler(fs))
    )
    if id_column not in dataset.schema.names or PARTITION_COLUMN not in dataset.schema.names:
        return _DAYS.empty_table()
    table = dataset.to_table(columns=[id_column, PARTITION_COLUMN])
    day = pc.strptime(table[PARTITION_COLUMN].cast(pa.string()), "%Y-%m-%d", "us", error_is_null=True)
    pairs = pa.table({"request_id": table[id_column].cast(pa.string()), "day": day})
    latest = pairs.group_by("request_id").aggregate([("day", "max")])
    return pa.table({"request_id": latest["request_id"], "day": latest["day_max"]}).cast(_DAYS)


def realized_performance(
    store: Store,
    since: datetime | None = None,
    by: Window = "batch",
    request_time: pa.Table | None = None,
    scored: ScoredIds | None = None,
) -> pd.DataFrame:
    """One row per (window, role, model version): the figures and the labelled rows behind them.

    Days and weeks are each request's day in ``request_time`` (``request_days``) when given,
    else the day its batch was scored."""
    frame = labelled_scores(store, since, request_time if by != "batch" else None, scored)
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    with store.begin() as conn:
        kinds = dict(conn.execute(select(models.c.version, models.c.kind)).all())
    # Reading records and loading files: models_dir is used only to register.
    classes = recorded_classes(Registry(store, models_dir=""), list(frame["model_version"].unique()))
    if by == "batch":
        frame["at"] = frame["finished_at"]  # one time per batch: its window is its source file
        keys = ["source", "at", "role", "model_version"]
    else:
        day = frame["requested"].fillna(frame["finished_at"]).dt.floor("D")
        frame["at"] = day if by == "day" else day - pd.to_timedelta(day.dt.weekday, unit="D")
        keys = ["at", "role", "model_version"]
    out = []
    for key, group in frame.groupby(keys, sort=False, observed=True):
        *_, at, role, version = key
        window = key[0] if by == "batch" else at.strftime("%Y-%m-%d" if by == "day" else "week of %Y-%m-%d")
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
