"""The batches some of whose rows the preferred model did not answer (in time): who did, per batch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from rendezvous.monitoring.report.period import utc_text
from rendezvous.monitoring.report.tables import Row, Table
from rendezvous.served_by import fell_back
from rendezvous.store import Store
from rendezvous.store.schema import batches


def fallbacks_table(store: Store, order: tuple[str, ...], since: datetime | None = None) -> Table:
    """One line per committed batch served partly by a less preferred model or late, newest first."""
    columns = ("id", "finished_at", "rows_scored", "served_by", "rows_late")
    query = (
        select(*(batches.c[name] for name in columns))
        .where(batches.c.state == "committed", batches.c.served_by.is_not(None))
        .order_by(batches.c.finished_at.desc())
    )
    if since is not None:
        query = query.where(batches.c.finished_at >= since)
    with store.begin() as conn:
        rows = conn.execute(query).all()
    served = [f"served by {role}" for role in order]
    table = Table(["finished (UTC)", "batch", "rows answered", *served, "late"])
    for row in rows:
        if fell_back(row.served_by, row.rows_late or 0, order):
            cells = [str(row.served_by.get(role, 0)) for role in order]
            when = utc_text(row.finished_at)
            table.rows.append(Row([when, row.id, str(row.rows_scored), *cells, str(row.rows_late or 0)]))
    return table
