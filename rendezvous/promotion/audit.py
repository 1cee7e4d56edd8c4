"""The audit trail of roles: who changed what, when, why, from which flow run; before and after.

Rows are written inside the transaction that changes the roles, so a change without its
record (or a record without its change) cannot exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from rendezvous.store import Store
from rendezvous.store.schema import role_changes


def record(
    conn: Connection,
    action: str,
    actor: str,
    comment: str | None,
    flow_run_id: str | None,
    before: dict[str, Any],
    after: dict[str, Any],
    decision: dict[str, Any] | None = None,
) -> dict[str, Any]:
    row = {
        "action": action,
        "actor": actor,
        "comment": comment,
        "flow_run_id": flow_run_id,
        "before": before,
        "after": after,
        "at": datetime.now(UTC),
        "decision": decision,
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
    return [{**dict(r._mapping), "at": f"{r.at:%Y-%m-%dT%H:%M:%SZ}"} for r in rows]
