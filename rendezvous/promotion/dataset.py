"""What production really saw, with what really happened: the dev copy joined with the labels.

The dev copy is a hive-partitioned Parquet dataset (``date=YYYY-MM-DD``) of the enriched rows
each batch scored, with ``_batch_id``. Joined by request id with the stored labels, it is the
training and evaluation data; split by time, so the candidate is judged on requests newer
than any it learned from, as it will be in production.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
from pyarrow.fs import FSSpecHandler, PyFileSystem

from rendezvous.batchfiles import filesystem
from rendezvous.promotion.errors import TrainingError

PARTITION_COLUMN = "date"
BOOKKEEPING_COLUMNS = ("_batch_id", PARTITION_COLUMN)
"""Columns the dev copy adds; never features."""


@dataclass(frozen=True)
class LabelledRows:
    """Labelled rows in time order, with the time of each row in ``at`` (UTC)."""

    frame: pd.DataFrame
    at: pd.Series
    files: int
    dev_rows: int
    untimed: int


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    holdout: pd.DataFrame
    ranges: dict[str, str]


def read_dev_storage(dev_url: str) -> tuple[pd.DataFrame, int]:
    """All rows of the dev copy and the number of files; files written with different column
    types (a column all-null in one batch) are reconciled by Arrow's type promotion."""
    fs, root = filesystem(dev_url)
    if not fs.exists(root):
        return pd.DataFrame(), 0
    arrow_fs = PyFileSystem(FSSpecHandler(fs))
    dataset = pads.dataset(root, format="parquet", partitioning="hive", filesystem=arrow_fs)
    fragments = list(dataset.get_fragments())
    if not fragments:
        return pd.DataFrame(), 0
    schemas = [f.physical_schema.remove_metadata() for f in fragments]
    partition = pa.schema([(PARTITION_COLUMN, pa.string())])
    schema = _unified([*schemas, partition])
    dataset = pads.dataset(
        root, schema=schema, format="parquet", partitioning="hive", filesystem=arrow_fs
    )
    return dataset.to_table().to_pandas(), len(fragments)


def _unified(schemas: list[pa.Schema]) -> pa.Schema:
    """One schema for every file: Arrow's type promotion, and text for a column that files wrote
    with types no promotion joins (an id of no declared type: integers from one format, text from
    another, or files written before the contract declared it)."""
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        kinds: dict[str, set[pa.DataType]] = {}
        for schema in schemas:
            for f in schema:
                kinds.setdefault(f.name, set()).add(f.type)
        as_text = {name for name, types in kinds.items() if not _promotable(name, types)}
        texts = [
            pa.schema([f.with_type(pa.string()) if f.name in as_text else f for f in schema])
            for schema in schemas
        ]
        return pa.unify_schemas(texts, promote_options="permissive")


def _promotable(name: str, types: set[pa.DataType]) -> bool:
    try:
        pa.unify_schemas([pa.schema([(name, t)]) for t in types], promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return False
    return True


def row_times(frame: pd.DataFrame, timestamp_column: str | None) -> pd.Series:
    """Each row's time: its timestamp column, or the dev copy's date partition without one."""
    column = timestamp_column if timestamp_column in frame.columns else PARTITION_COLUMN
    if column not in frame.columns:
        raise TrainingError(f"the dev copy has neither {timestamp_column!r} nor a date partition")
    return pd.to_datetime(frame[column], utc=True, errors="coerce", format="ISO8601")


def labelled_rows(
    dev: pd.DataFrame,
    dev_files: int,
    outcomes: pd.DataFrame,
    id_column: str,
    label_column: str,
    timestamp_column: str | None,
) -> LabelledRows:
    """Dev rows that have an outcome, as ``label_column`` (text), oldest first."""
    if dev.empty:
        raise TrainingError("the dev copy is empty: score some batches first")
    if id_column not in dev.columns:
        raise TrainingError(f"the dev copy has no {id_column!r} column")
    frame = dev.drop(columns=[label_column], errors="ignore").drop_duplicates(id_column)
    frame = frame.assign(**{id_column: frame[id_column].astype("str")})
    joined = frame.merge(
        outcomes.rename(columns={"request_id": id_column, "outcome": label_column}),
        on=id_column,
        how="inner",
        validate="one_to_one",
    )
    at = row_times(joined, timestamp_column)
    timed = at.notna()
    joined, at = joined[timed], at[timed]
    order = pd.DataFrame({"at": at, "id": joined[id_column]}).sort_values(["at", "id"]).index
    return LabelledRows(
        frame=joined.loc[order].reset_index(drop=True),
        at=at.loc[order].reset_index(drop=True),
        files=dev_files,
        dev_rows=len(dev),
        untimed=int((~timed).sum()),
    )


def time_split(rows: LabelledRows, holdout_fraction: float) -> Split:
    """Train on the older rows, hold out the newest ``holdout_fraction``; rows sharing the
    cut-off time all go to the holdout, so no holdout row is older than a training row."""
    n = len(rows.frame)
    n_holdout = max(1, round(n * holdout_fraction))
    if n - n_holdout < 1:
        raise TrainingError(f"{n} labelled rows cannot be split into training and holdout")
    cut = rows.at.iloc[n - n_holdout]
    in_holdout = rows.at >= cut
    train, holdout = rows.frame[~in_holdout], rows.frame[in_holdout]
    if train.empty:
        raise TrainingError(f"all {n} labelled rows share one time; nothing older to train on")
    return Split(
        train=train,
        holdout=holdout,
        ranges={
            "train_from": _iso(rows.at[~in_holdout].min()),
            "train_to": _iso(rows.at[~in_holdout].max()),
            "holdout_from": _iso(rows.at[in_holdout].min()),
            "holdout_to": _iso(rows.at[in_holdout].max()),
        },
    )


def newer_than(rows: LabelledRows, moment: str | None) -> pd.DataFrame:
    """Labelled rows strictly newer than ``moment`` (ISO time); all of them if it is None."""
    if moment is None:
        return rows.frame
    return rows.frame[rows.at > pd.Timestamp(moment)]


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of the rows' content in order: the same training data gives the same value."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    columns = "\x1f".join(map(str, frame.columns)).encode()
    return hashlib.sha256(columns + hashed.tobytes()).hexdigest()


def feature_frame(frame: pd.DataFrame, feature_names: list[str], never: list[str]) -> pd.DataFrame:
    """What a recipe is fitted on: exactly ``feature_names`` of the rows, in that order; a name
    in ``never`` (id, label, bookkeeping) or absent from the rows is refused, named."""
    leaking = [name for name in feature_names if name in never]
    if leaking:
        raise TrainingError(
            f"the recipe's features include {leaking}: ids, labels and bookkeeping never train"
        )
    missing = [name for name in feature_names if name not in frame.columns]
    if missing:
        raise TrainingError(f"the recipe's features {missing} are not columns of the dev copy")
    return frame[list(feature_names)]


def _iso(value: Any) -> str:
    return pd.Timestamp(value).isoformat().replace("+00:00", "Z")
