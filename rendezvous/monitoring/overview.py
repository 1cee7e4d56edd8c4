"""Monitoring at a glance, for ``rendezvous status``: each model's reference, recent alerts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from rendezvous.monitoring.metrics_store import latest_metric
from rendezvous.monitoring.verdict import comparison_of, fmt_number, note_text, rule_text
from rendezvous.registry import Registry
from rendezvous.store import Store
from rendezvous.store.schema import batches, metrics

ACTIVE_ROLES = ("live", "canary", "candidate")
SHOWN_BATCHES = 5  # of a fallback's first batches, named in one line


def describe_profile(profile: dict[str, Any] | None) -> str:
    """One line for people: where the reference came from and how big it is."""
    if profile is None:
        return "none"
    fallback = profile.get("fallback")
    if fallback:
        batches = fallback["batches"]
        named = ", ".join(batches[:SHOWN_BATCHES]) + (
            f" and {len(batches) - SHOWN_BATCHES} more" if len(batches) > SHOWN_BATCHES else ""
        )
        return (
            f"fallback sample: {profile.get('n_rows', 0):,} random rows of the "
            f"{fallback['rows_seen']:,} of its first batches ({named}), "
            f"{profile.get('created_at', '?')}; no reference was registered "
            "(`rendezvous models profile VERSION --reference FILE` sets one)"
        )
    source = profile.get("source") or "unnamed reference"
    return f"{source} ({profile.get('n_rows', 0):,} rows, {profile.get('created_at', '?')})"


def _pending(store: Store, version: str) -> str | None:
    """'x of y rows' towards a first-batches profile, from the latest progress row."""
    row = latest_metric(store, "profile_rows", version)
    if not row or not row["detail"]:
        return None
    return f"{row['detail']['rows_seen']:,} of {row['detail']['rows_wanted']:,} rows"


def profile_lines(store: Store, registry: Registry) -> list[dict[str, str]]:
    out = []
    for record in registry.list():
        if record.role not in ACTIVE_ROLES:
            continue
        if record.profile is not None:
            text = describe_profile(record.profile)
        else:
            progress = _pending(store, record.version)
            text = "none yet: a fallback sample of the first batches it scores" + (
                f" ({progress} seen)" if progress else ""
            )
        out.append({"version": record.version, "role": record.role, "profile": text})
    return out


def alert_line(row: dict[str, Any]) -> str:
    what = row["feature"] or comparison_of(row)
    note = note_text(row)
    return f"{what}: {row['metric']} {fmt_number(row['value'])} ({rule_text(row)})" + (
        f", {note}" if note else ""
    )


def recent_alerts(store: Store, batches_limit: int = 10) -> list[dict[str, Any]]:
    """The latest committed batches that raised alerts (or whose monitoring failed)."""
    query = (
        select(metrics, batches.c.source)
        .join(batches, batches.c.id == metrics.c.batch_id)
        .where(
            batches.c.state == "committed",
            metrics.c.alert.is_(True) | (metrics.c.metric == "monitor_error"),
        )
        .order_by(metrics.c.at.desc(), metrics.c.id)
    )
    with store.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query).all()]
    grouped: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = grouped.get(row["batch_id"])
        if entry is None:
            if len(grouped) >= batches_limit:
                continue
            entry = grouped[row["batch_id"]] = {
                "batch_id": row["batch_id"],
                "source": row["source"],
                "at": row["at"].isoformat(),
                "features": [],
                "alerts": [],
            }
        if row["metric"] == "monitor_error":
            entry["alerts"].append(f"monitoring failed: {(row['detail'] or {}).get('error')}")
            continue
        if row["feature"]:
            entry["features"].append(row["feature"])
        entry["alerts"].append(alert_line(row))
    return list(grouped.values())


def monitoring_overview(store: Store, registry: Registry) -> dict[str, Any]:
    with store.begin() as conn:
        monitored = conn.execute(
            select(metrics.c.batch_id).distinct().join(batches, batches.c.id == metrics.c.batch_id)
        ).all()
    return {
        "batches_monitored": len(monitored),
        "profiles": profile_lines(store, registry),
        "alerts": recent_alerts(store),
    }
