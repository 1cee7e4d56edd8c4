"""Read-only views of the store for people and machines: status, one batch's story."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from rendezvous.promotion.errors import ChainBroken
from rendezvous.registry import Registry
from rendezvous.roles import current_roles
from rendezvous.store import Store
from rendezvous.store.schema import arrivals, batches, lineage, quarantine


def system_status(store: Store, registry: Registry) -> dict[str, Any]:
    from rendezvous.monitoring.overview import monitoring_overview  # pandas: not for `batches show`

    with store.begin() as conn:
        by_state = dict(
            conn.execute(select(batches.c.state, func.count()).group_by(batches.c.state)).all()
        )
        totals = conn.execute(
            select(
                func.coalesce(func.sum(batches.c.rows_in), 0),
                func.coalesce(func.sum(batches.c.rows_scored), 0),
                func.coalesce(func.sum(batches.c.rows_quarantined), 0),
            )
        ).one()
        duplicates = conn.execute(
            select(func.count()).select_from(arrivals).where(arrivals.c.outcome == "duplicate")
        ).scalar_one()
        served = conn.execute(select(batches.c.served_by).where(batches.c.served_by.is_not(None))).scalars()
        served_by = added_up(served)
        late = conn.execute(select(func.coalesce(func.sum(batches.c.rows_late), 0))).scalar_one()
        recent = conn.execute(
            select(batches).order_by(batches.c.received_at.desc()).limit(20)
        ).all()
        try:
            serving: dict[str, Any] = current_roles(conn)
        except ChainBroken as exc:  # nobody is served: say why rather than fail the overview
            serving = {"live": None, "canary": None, "audit": str(exc)}
    return {
        "roles": serving,
        "models": [record.summary() for record in registry.list()],
        "batches_by_state": by_state,
        "duplicates_received": duplicates,
        "totals": {
            "rows_in": int(totals[0]),
            "rows_scored": int(totals[1]),
            "rows_quarantined": int(totals[2]),
            "served_by": served_by,
            "rows_late": int(late),
        },
        "recent_batches": [batch_summary(row) for row in recent],
        "monitoring": monitoring_overview(store, registry),
    }


def added_up(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Rows per role over batches."""
    total: dict[str, int] = {}
    for served in counts:
        for role, rows in served.items():
            total[role] = total.get(role, 0) + rows
    return total


def batch_summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "source": row.source,
        "state": row.state,
        "rows_in": row.rows_in,
        "rows_scored": row.rows_scored,
        "rows_quarantined": row.rows_quarantined,
        "served_by": row.served_by or {},
        "rows_late": row.rows_late or 0,
        "reason": row.reason,
        "live_version": row.live_version,
        "canary_version": row.canary_version,
        "attempts": row.attempts,
        "received_at": row.received_at.isoformat() if row.received_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "outputs": {k: v for k, v in (row.outputs or {}).items() if isinstance(v, str)},
    }


def batch_detail(store: Store, batch_id: str) -> dict[str, Any] | None:
    """Counts, lineage and the reasons rows were quarantined (grouped by column and rule)."""
    with store.begin() as conn:
        row = conn.execute(
            select(batches).where((batches.c.id == batch_id) | (batches.c.source == batch_id))
        ).first()
        if row is None:
            return None
        steps = conn.execute(
            select(lineage)
            .where(lineage.c.batch_id == row.id)
            .order_by(lineage.c.chunk, lineage.c.id)
        ).all()
        reasons = conn.execute(
            select(quarantine.c.column, quarantine.c.rule, func.count())
            .where(quarantine.c.batch_id == row.id)
            .group_by(quarantine.c.column, quarantine.c.rule)
            .order_by(func.count().desc())
        ).all()
        seen = conn.execute(
            select(arrivals).where(arrivals.c.batch_id == row.id).order_by(arrivals.c.id)
        ).all()
    return {
        **batch_summary(row),
        "sha256": row.sha256,
        "format": row.format,
        "lineage": [
            {
                "chunk": s.chunk,
                "step": s.step,
                "rows_in": s.rows_in,
                "rows_out": s.rows_out,
                "detail": s.detail,
            }
            for s in steps
        ],
        "quarantine_reasons": [{"column": c, "rule": r, "rows": n} for c, r, n in reasons],
        "arrivals": [
            {"source": a.source, "at": a.arrived_at.isoformat(), "outcome": a.outcome} for a in seen
        ],
    }
