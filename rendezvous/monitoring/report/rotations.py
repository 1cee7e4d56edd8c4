"""Role changes (registrations of live or canary, decisions, rollbacks) as the report draws and
lists them; the audit's other rows (shadow switches, proposals, candidates registered) are not."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select

from rendezvous.promotion import audit
from rendezvous.store import Store
from rendezvous.store.schema import role_changes


def read_rotations(store: Store) -> pd.DataFrame:
    """Every role change, oldest first, with ``at`` in UTC."""
    with store.begin() as conn:
        rows = conn.execute(select(role_changes).order_by(role_changes.c.at)).all()
    frame = pd.DataFrame([dict(r._mapping) for r in rows if audit.is_rotation(r)])
    if not frame.empty:
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def roles_after(after: dict[str, Any] | None) -> str:
    """``live v2, canary v1``: who held which role once the change was made."""
    return ", ".join(f"{role} {version}" for role, version in (after or {}).items() if version)
