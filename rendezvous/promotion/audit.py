"""The audit trail of roles: a hash chain of who changed what, when, why, before and after.

Every registration, shadow switch, proposal outcome and rotation is one row, written inside the
transaction that makes the change, so a change without its record cannot exist. Each row carries
the hash of the row before it and a hash of its own content (its signed decision included), so a
row inserted, edited or deleted by hand breaks the chain where it was touched. The serving pair is
the last row's ``after``: a role written into the models table by hand serves nobody.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, text

from rendezvous.promotion.errors import ChainBroken
from rendezvous.store import Store
from rendezvous.store.schema import role_changes

GENESIS = "0" * 64
"""The ``prev_hash`` of the first row."""

_CONTENT = ("action", "actor", "comment", "flow_run_id", "before", "after", "at", "decision")
_APPEND_LOCK = 0x72647A61  # PostgreSQL advisory lock key: appends take turns, so the chain never forks


@dataclass(frozen=True)
class Break:
    row_id: int
    reason: str

    def __str__(self) -> str:
        return f"audit row #{self.row_id}: {self.reason}"


DECISIONS = ("promote", "reject", "timeout", "refuse", "rollback")


def is_rotation(row: Any) -> bool:
    """A decision, or a row that changed who is live or canary (the report draws these)."""
    before, after = row.before or {}, row.after or {}
    return row.action in DECISIONS or any(before.get(r) != after.get(r) for r in ("live", "canary"))


def row_hash(row: dict[str, Any] | Any, prev_hash: str) -> str:
    """sha256 over a canonical JSON of the row's content and the previous row's hash."""
    fields = row if isinstance(row, dict) else row._mapping
    content = {name: fields.get(name) for name in _CONTENT}
    content["at"] = content["at"].astimezone(UTC).isoformat(timespec="microseconds")
    content["prev_hash"] = prev_hash
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


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
    """Append one row to the chain, inside the caller's transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})
    last = conn.execute(select(role_changes.c.row_hash).order_by(role_changes.c.id.desc()).limit(1)).first()
    row: dict[str, Any] = {
        "action": action,
        "actor": actor,
        "comment": comment,
        "flow_run_id": flow_run_id,
        "before": before,
        "after": after,
        "at": datetime.now(UTC),
        "decision": decision,
        "prev_hash": last.row_hash if last else GENESIS,
    }
    row["row_hash"] = row_hash(row, row["prev_hash"])
    row["id"] = conn.execute(insert(role_changes).values(**row)).inserted_primary_key[0]
    return row


def last(conn: Connection) -> Any | None:
    """The newest row of the chain, None if it is empty: what the serving pair is read from.

    Two indexed reads (what scoring pays per batch): the row is checked against its own hash and
    the row before it, so a row appended by hand with a wrong hash serves nobody (ChainBroken).
    """
    rows = conn.execute(select(role_changes).order_by(role_changes.c.id.desc()).limit(2)).all()
    if not rows:
        return None
    found = breaks(rows[:1], rows[1].row_hash if len(rows) > 1 else GENESIS)
    if found:
        raise ChainBroken(
            f"the role audit is broken at {found[0]}; nobody is served and no role moves until it is "
            "restored (remove rows rendezvous did not write, or restore a backup): `rendezvous verify`"
        )
    return rows[0]


def breaks(rows: Iterable[Any], expected: str = GENESIS) -> list[Break]:
    """Every row (oldest first, the first one following ``expected``) whose link to the row
    before or whose own hash does not hold."""
    found: list[Break] = []
    for row in rows:
        if row.prev_hash != expected:
            found.append(Break(row.id, "does not link to the row before it (inserted, or a row removed)"))
        elif row.row_hash != row_hash(row, row.prev_hash):
            found.append(Break(row.id, "its content does not match its hash (edited, or forged)"))
        expected = row.row_hash
    return found


def chain_breaks(conn: Connection) -> tuple[int, list[Break]]:
    """How many rows the chain holds and where it breaks."""
    rows = conn.execute(select(role_changes).order_by(role_changes.c.id)).all()
    return len(rows), breaks(rows)


def require_intact(conn: Connection) -> None:
    """ChainBroken naming the first broken row; called before any rotation."""
    _, found = chain_breaks(conn)
    if found:
        raise ChainBroken(
            f"the role audit is broken at {found[0]}; nothing changed. Run `rendezvous verify` "
            "and restore the audit (remove rows rendezvous did not write, or restore a backup) first"
        )


def history(store: Store, flow_run_id: str | None = None) -> list[dict[str, Any]]:
    """Every audited event, oldest first (or those of one flow run)."""
    query = select(role_changes).order_by(role_changes.c.id)
    if flow_run_id is not None:
        query = query.where(role_changes.c.flow_run_id == flow_run_id)
    with store.begin() as conn:
        rows = conn.execute(query).all()
    return [{**dict(r._mapping), "at": f"{r.at:%Y-%m-%dT%H:%M:%SZ}"} for r in rows]
