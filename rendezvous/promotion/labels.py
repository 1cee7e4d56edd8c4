"""Ground truth: the outcome of each request, stored once per request id, as it arrives.

A label is kept only for a request that has a live score: that is what makes it usable for
judging models on real traffic. Labels for requests never scored (unknown ids, or rows that
were quarantined) are not stored; they are counted and written to a rejects file with the
reason, and adding the same file again later stores them once their batch has been scored.
Adding a file twice changes nothing; a different outcome for a stored request is refused
unless ``replace`` is asked for (a correction).

An outcome is stored spelled as a class of the live model that scored the request, as
recorded at its registration (``rendezvous.classes``): "1.0" is stored as "1" for classes
0/1 or 0.0/1.0, "true" as "True" for boolean classes. An outcome that is none of its classes
("1e20", "maybe") is rejected as ``not_a_class``, and a regressor's outcome that is not a
finite number as ``not_a_number``; both with the reason in the rejects file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from rendezvous.batchfiles import filesystem, join
from rendezvous.classes import normalise_outcomes, outcome_text, recorded_classes
from rendezvous.outputs import write_table
from rendezvous.registry import Registry
from rendezvous.scorelog import read as scorelog
from rendezvous.store import Store
from rendezvous.store.schema import labels, quarantine

if TYPE_CHECKING:
    from rendezvous.scorelog.scored_ids import ScoredIds

REJECT_COLUMNS = ["request_id", "outcome", "reason", "detail"]
WHOLE_NUMBER = r"^\+?(-?)0*(\d+?)(?:\.0*)?$"  # an integer's digits: "+0279876.00" -> "279876"


class LabelFileError(Exception):
    """A label file that cannot be read as (request id, outcome) pairs."""


@dataclass(frozen=True)
class LabelReport:
    """What became of one label file: every row is stored, unchanged, replaced or rejected."""

    source: str
    received: int
    stored: int
    unchanged: int
    replaced: int
    rejected: dict[str, int] = field(default_factory=dict)
    rejects_url: str | None = None

    @property
    def rejected_rows(self) -> int:
        return sum(self.rejected.values())


def read_label_file(
    url: str, id_column: str, outcome_columns: list[str], id_kind: str | None = None
) -> pd.DataFrame:
    """(request_id, outcome) from a CSV or Parquet file; the outcome is the first column found.

    Ids are matched as the text they are stored as; an id the contract declares an integer
    (``id_kind``) matches whatever spelling of the same whole number the file has (``279876.0``,
    ``+279876``, a float column of a spreadsheet's export)."""
    suffix = PurePosixPath(url).suffix.lower()
    fs, path = filesystem(url)
    if not fs.exists(path):
        raise LabelFileError(f"{url}: no such file")
    with fs.open(path, "rb") as handle:
        if suffix == ".csv":
            frame = pd.read_csv(handle, dtype="str", keep_default_na=False)
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(handle)
        else:
            raise LabelFileError(f"{url}: expected a .csv or .parquet file")
    if id_column not in frame.columns:
        raise LabelFileError(f"{url}: no {id_column!r} column (columns: {', '.join(frame.columns)})")
    outcome = next((c for c in outcome_columns if c in frame.columns), None)
    if outcome is None:
        raise LabelFileError(
            f"{url}: no outcome column; expected one of {', '.join(outcome_columns)} "
            f"(columns: {', '.join(frame.columns)})"
        )
    ids = frame[id_column].astype("str").str.strip()
    if id_kind == "integer":
        ids = ids.str.replace(WHOLE_NUMBER, r"\1\2", regex=True)
    return pd.DataFrame(
        {
            "request_id": ids.where(frame[id_column].notna() & (ids != ""), None).astype("str"),
            "outcome": outcome_text(frame[outcome]),
        }
    )


_QUARANTINED = "SELECT DISTINCT q.request_id FROM {candidates} JOIN quarantine q USING (request_id)"
_STORED = "SELECT l.request_id, l.outcome FROM {candidates} JOIN labels l USING (request_id)"


def _live_versions(store: Store, ids: pd.Series, scored: ScoredIds | None) -> pd.Series:
    """The live model that scored each request (the one whose classes its outcome must be), by
    position, NA for a request no live model scored: one scan of the committed live score
    files (of the batches the scored-id set names, when it can), joined with the ids in DuckDB,
    each answer put back at its id's position."""
    wanted = pa.array(ids, pa.string())
    batch_ids = scored.batches_of(wanted) if scored is not None else None
    found = scorelog.query(
        store,
        "SELECT w.position, any_value(s.model_version) AS version "
        "FROM wanted w JOIN scores s USING (request_id) GROUP BY w.position",
        roles=["live"],
        batch_ids=batch_ids,
        wanted=pa.table({"request_id": wanted, "position": np.arange(len(ids))}),
    )
    versions = np.full(len(ids), None, dtype=object)
    versions[found["position"].to_numpy()] = found["version"].to_numpy(zero_copy_only=False)
    return pd.Series(versions, index=ids.index, dtype="str")


def _as_classes(
    store: Store, conn: Connection, rows: pd.DataFrame, version: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Outcomes spelled as the classes of the live model that scored each request (``version``,
    by position; a number for a regressor); the rows whose outcome is none of them, rejected
    with the reason."""
    # Reading records and loading files: models_dir is used only to register.
    classes = recorded_classes(Registry(store, models_dir=""), version.unique(), conn)
    spelled = rows["outcome"].copy()
    reason = pd.Series(None, index=rows.index, dtype="object")
    for name, part in rows.groupby(version, sort=False):
        spelled[part.index], reason[part.index] = normalise_outcomes(part["outcome"], classes[name])
    bad = reason.notna()
    detail = [
        f"{outcome!r} is not a number (model {v} is a regressor)"
        if classes[v] is None
        else f"{outcome!r} is not one of model {v}'s classes: {', '.join(classes[v].names)}"
        for outcome, v in zip(rows.loc[bad, "outcome"], version[bad], strict=True)
    ]
    rejected = _reject(rows[bad], "", detail).assign(reason=reason[bad])
    return rows[~bad].assign(outcome=spelled[~bad]), rejected


def _reject(frame: pd.DataFrame, reason: str, detail: pd.Series | str = "") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "request_id": frame["request_id"],
            "outcome": frame["outcome"],
            "reason": reason,
            "detail": detail,
        }
    )


def add_labels(
    store: Store, frame: pd.DataFrame, source: str, replace: bool = False, scored: ScoredIds | None = None
) -> tuple[LabelReport, pd.DataFrame]:
    """Store (request_id, outcome) rows idempotently; return the report and the rejected rows.
    ``scored``: the home's scored-id set (id scope "global"), which says where each id was scored."""
    for attempt in range(2):
        try:
            return _add_labels(store, frame, source, replace, scored)
        except IntegrityError:
            # another process stored some of these ids a moment ago: classify again
            if attempt:
                raise
    raise AssertionError("unreachable")


def _add_labels(
    store: Store, frame: pd.DataFrame, source: str, replace: bool, scored: ScoredIds | None
) -> tuple[LabelReport, pd.DataFrame]:
    rejects: list[pd.DataFrame] = []
    no_id = frame["request_id"].isna()
    no_outcome = ~no_id & frame["outcome"].isna()
    rejects += [_reject(frame[no_id], "missing_request_id"), _reject(frame[no_outcome], "missing_outcome")]
    complete = frame[~no_id & ~no_outcome]
    # only rows whose id the file gives again are compared whole (hashing 1M pairs took 0.9 s)
    shared = complete["request_id"].duplicated(keep=False).to_numpy()
    several = complete[shared]
    first = ~several.duplicated().to_numpy()  # each (id, outcome) once
    distinct = several[first]
    repeated = len(several) - len(distinct)
    contradicting = distinct["request_id"].duplicated(keep=False).to_numpy()
    rejects.append(
        _reject(distinct[contradicting], "conflicting_in_file", "the file gives this request two outcomes")
    )
    kept = ~shared
    kept[np.flatnonzero(shared)[np.flatnonzero(first)[~contradicting]]] = True
    rows = complete[kept]
    now = datetime.now(UTC)
    versions = _live_versions(store, rows["request_id"], scored)
    with store.begin() as conn:
        known = versions.notna()
        unknown = rows[~known]
        found = store.select_among(conn, _QUARANTINED, unknown["request_id"], quarantine)
        quarantined = {request_id for (request_id,) in found}
        in_quarantine = unknown["request_id"].isin(quarantined)
        rejects.append(
            _reject(unknown[in_quarantine], "request_quarantined", "the request was never scored")
        )
        rejects.append(
            _reject(unknown[~in_quarantine], "unknown_request", "no live score for this request id")
        )
        rows, not_classes = _as_classes(store, conn, rows[known], versions[known])
        rejects.append(not_classes)
        stored = dict(store.select_among(conn, _STORED, rows["request_id"], labels))
        previous = rows["request_id"].map(stored).astype("str")
        new = rows[previous.isna()]
        same = rows[previous.notna() & (previous == rows["outcome"])]
        changed = rows[previous.notna() & (previous != rows["outcome"])]
        if replace:
            for request_id, outcome in changed.itertuples(index=False):
                conn.execute(
                    update(labels)
                    .where(labels.c.request_id == request_id)
                    .values(outcome=outcome, source=source, received_at=now)
                )
        else:
            rejects.append(
                _reject(changed, "conflicts_with_stored", "stored outcome " + previous[changed.index])
            )
        arrived = {"source": source, "received_at": now}
        # in key order: each page of the id index is written once, not once per label
        in_order = pc.sort_indices(pa.array(new["request_id"], pa.string())).to_numpy()
        store.bulk_insert(conn, labels, new[["request_id", "outcome"]].iloc[in_order], arrived)
    rejected = pd.concat([r for r in rejects if not r.empty] or [pd.DataFrame(columns=REJECT_COLUMNS)])
    report = LabelReport(
        source=source,
        received=len(frame),
        stored=len(new),
        unchanged=len(same) + repeated,
        replaced=len(changed) if replace else 0,
        rejected=rejected["reason"].value_counts().to_dict() if not rejected.empty else {},
    )
    return report, rejected.reset_index(drop=True)


def write_rejects(rejected: pd.DataFrame, labels_url: str, source: str) -> str | None:
    """Rejected rows to ``<labels>/rejects/<file stem>.rejects.csv`` (removed when none are left)."""
    stem = PurePosixPath(source).name.rsplit(".", 1)[0]
    target = join(labels_url, "rejects", f"{stem}.rejects.csv")
    if rejected.empty:
        fs, path = filesystem(target)
        if fs.exists(path):
            fs.rm(path)
        return None
    write_table(rejected, target, "csv")
    return target


LABELS_SCHEMA = pa.schema([("request_id", pa.string()), ("outcome", pa.string())])


def labels_table(store: Store) -> pa.Table:
    """Every stored label as Arrow (request_id, outcome: text), as DuckDB joins it with scores."""
    with store.begin() as conn:
        return store.arrow(conn, select(labels.c.request_id, labels.c.outcome), LABELS_SCHEMA)


def load_labels(store: Store) -> pd.DataFrame:
    """Every stored label: request_id, outcome (text)."""
    return labels_table(store).to_pandas().astype("str")


def typed_outcomes(outcomes: pd.Series) -> pd.Series:
    """Outcomes as numbers when every one is a number (integers stay integers), else as text."""
    numbers = pd.to_numeric(outcomes, errors="coerce")
    if numbers.isna().any():
        return outcomes.astype("str")
    if ((numbers % 1 == 0) & (numbers.abs() < 2**53)).all():  # exact integers, no int64 overflow
        return numbers.astype("int64")
    return numbers.astype("float64")
