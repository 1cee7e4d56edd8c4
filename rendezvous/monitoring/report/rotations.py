"""Role changes (registrations, promotions, rollbacks) as the report draws and lists them."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select

from rendezvous.store import Store
from rendezvous.store.schema import role_changes


def read_rotations(store: Store) -> pd.DataFrame:
    """Every role change, oldest first, with ``at`` in UTC."""
    with store.begin() as conn:
        rows = conn.execute(select(role_changes).order_by(role_changes.c.at)).all()
    frame = pd.DataFrame([dict(r._mapping) for r in rows])
    if not frame.empty:
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def roles_after(after: dict[str, Any] | None) -> str:
    """``live v2, canary v1``: who held which role once the change was made."""
    return ", ".join(f"{role} {version}" for role, version in (after or {}).items() if version)
