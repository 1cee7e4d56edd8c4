"""The audit trail of roles: who changed what, when, why, from which flow run; before and after.

Rows are written inside the transaction that changes the roles, so a change without its
record (or a record without its change) cannot exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from rendezvous.store import Store
from rendezvous.store.schema import models, role_changes


def current_roles(conn: Connection, candidate: str | None = None) -> dict[str, str | None]:
    """Who is live and canary now (and, if named, the candidate), read in ``conn``'s transaction."""
    rows = dict(conn.execute(select(models.c.version, models.c.role)).all())
    roles: dict[str, str | None] = {
        "live": next((v for v, r in rows.items() if r == "live"), None),
        "canary": next((v for v, r in rows.items() if r == "canary"), None),
    }
    if candidate is not None:
        roles[rows.get(candidate) or "unregistered"] = candidate
    return roles


def record(
    conn: Connection,
    action: str,
    actor: str,
    comment: str | None,
    flow_run_id: str | None,
    before: dict[str, Any],
    after: dict[str, Any],
) -> dict[str, Any]:
    row = {
        "action": action,
        "actor": actor,
        "comment": comment,
        "flow_run_id": flow_run_id,
        "before": before,
        "after": after,
        "at": datetime.now(UTC),
    }
    row["id"] = conn.execute(insert(role_changes).values(**row)).inserted_primary_key[0]
    return row


def history(store: Store, flow_run_id: str | None = None) -> list[dict[str, Any]]:
    """Every role change, oldest first (or those of one flow run)."""
    query = select(role_changes).order_by(role_changes.c.id)
    if flow_run_id is not None:
        query = query.where(role_changes.c.flow_run_id == flow_run_id)
    with store.begin() as conn:
        rows = conn.execute(query).all()
    return [{**dict(r._mapping), "at": _utc_text(r.at)} for r in rows]


def _utc_text(at: datetime) -> str:
    """ISO time in UTC with a Z, whichever backend stored it (SQLite returns it naive)."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")
