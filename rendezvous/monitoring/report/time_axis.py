"""Where the report puts a batch in time: its request time when a timestamp column is set (a
backfill of ten months spans ten months, not the twenty seconds it took to score), its scoring
time otherwise; the page says which (``request_time.time_basis``).

A batch's request time is the middle of the request-time range its validate steps recorded in
the lineage (``from``, ``to``); a batch with no timestamp at all stays at its scoring time.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select

from rendezvous.request_time import time_basis
from rendezvous.store import Store
from rendezvous.store.schema import batches, lineage


@dataclass(frozen=True)
class TimeAxis:
    label: str  # what the axis is, said beside it: "request time (COLUMN)" or "scoring time"
    request_time: bool


def time_axis(timestamp_column: str | None) -> TimeAxis:
    return TimeAxis(time_basis(timestamp_column), timestamp_column is not None)


def request_midpoints(store: Store) -> pd.DataFrame:
    """batch_id, source and the middle of each batch's request-time range (UTC)."""
    query = (
        select(lineage.c.batch_id, batches.c.source, lineage.c.detail)
        .join(batches, batches.c.id == lineage.c.batch_id)
        .where(lineage.c.step == "validate")
    )
    with store.begin() as conn:
        rows = conn.execute(query).all()
    found = []
    for batch_id, source, detail in rows:
        span = (detail or {}).get("request_time") or {}
        if span.get("from"):
            found.append((batch_id, source, span["from"], span["to"]))
    ranges = pd.DataFrame(found, columns=["batch_id", "source", "from", "to"])
    ranges["from"] = pd.to_datetime(ranges["from"], utc=True, format="ISO8601")
    ranges["to"] = pd.to_datetime(ranges["to"], utc=True, format="ISO8601")
    spans = ranges.groupby(["batch_id", "source"], as_index=False).agg({"from": "min", "to": "max"})
    spans["at"] = spans["from"] + (spans["to"] - spans["from"]) / 2
    return spans[["batch_id", "source", "at"]]


def place(
    m: pd.DataFrame, perf: pd.DataFrame, store: Store, axis: TimeAxis
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The metrics and per-batch performance with ``at`` on the axis' time (copies)."""
    if not axis.request_time:
        return m, perf
    spans = request_midpoints(store)
    by_batch = dict(zip(spans["batch_id"], spans["at"], strict=True))
    by_source = dict(zip(spans["source"], spans["at"], strict=True))  # a name sent twice: the last
    return _moved(m, "batch_id", by_batch), _moved(perf, "window", by_source)


def _moved(frame: pd.DataFrame, key: str, times: dict[str, pd.Timestamp]) -> pd.DataFrame:
    """``frame`` with ``at`` taken from ``times`` by ``key`` where known, else kept."""
    if frame.empty or not times:
        return frame
    moved = pd.to_datetime(frame[key].map(times), utc=True)
    return frame.assign(at=moved.where(moved.notna(), frame["at"]))
