"""The ``metrics`` table: written once per batch by the monitor, read by status, `drift` and the
report. Reading it needs no pandas (the quick commands read rows); the report asks for a frame."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select

from rendezvous.store import Store
from rendezvous.store.schema import batches, metrics

if TYPE_CHECKING:
    import pandas as pd

METRIC_COLUMNS = [
    "batch_id",
    "model_version",
    "role",
    "metric",
    "feature",
    "value",
    "threshold",
    "alert",
    "detail",
    "at",
]


def json_ready(obj: Any) -> Any:
    """NaN and infinities are not JSON: None; numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def replace_batch_metrics(
    conn: Connection, batch_id: str, rows: list[dict[str, Any]], at: datetime | None = None
) -> int:
    """Write a batch's rows, replacing those of an earlier attempt (re-runs never duplicate)."""
    at = at or datetime.now(UTC)
    conn.execute(delete(metrics).where(metrics.c.batch_id == batch_id))
    records = [
        {
            "batch_id": batch_id,
            "model_version": row.get("model_version"),
            "role": row["role"],
            "metric": row["metric"],
            "feature": row.get("feature"),
            "value": json_ready(row.get("value")),
            "threshold": json_ready(row.get("threshold")),
            "alert": bool(row.get("alert", False)),
            "detail": json_ready(row.get("detail") or {}),
            "at": at,
        }
        for row in rows
    ]
    if records:
        conn.execute(insert(metrics), records)
    return len(records)


def metric_rows(
    store: Store,
    since: datetime | None = None,
    batch_id: str | None = None,
    committed_only: bool = True,
) -> list[dict[str, Any]]:
    """Metric rows with their batch's source and state, oldest first."""
    query = select(
        *(metrics.c[name] for name in METRIC_COLUMNS),
        batches.c.source,
        batches.c.state,
    ).join(batches, batches.c.id == metrics.c.batch_id)
    if since is not None:
        query = query.where(metrics.c.at >= since)
    if batch_id is not None:
        query = query.where((metrics.c.batch_id == batch_id) | (batches.c.source == batch_id))
    if committed_only:
        query = query.where(batches.c.state == "committed")
    with store.begin() as conn:
        return [dict(row._mapping) for row in conn.execute(query.order_by(metrics.c.at, metrics.c.id))]


def read_metrics(
    store: Store,
    since: datetime | None = None,
    batch_id: str | None = None,
    committed_only: bool = True,
) -> pd.DataFrame:
    """``metric_rows`` as a frame, for the report's plots and tables."""
    import pandas as pd

    frame = pd.DataFrame(
        metric_rows(store, since, batch_id, committed_only), columns=[*METRIC_COLUMNS, "source", "state"]
    )
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    for name in ("feature", "model_version"):  # None, not NaN: rows read like the dicts written
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    frame["alert"] = frame["alert"].astype(bool)
    return frame


def latest_metric(store: Store, metric: str, model_version: str) -> dict[str, Any] | None:
    with store.begin() as conn:
        row = conn.execute(
            select(metrics)
            .where(metrics.c.metric == metric, metrics.c.model_version == model_version)
            .order_by(metrics.c.at.desc(), metrics.c.id.desc())
            .limit(1)
        ).first()
    return dict(row._mapping) if row else None
