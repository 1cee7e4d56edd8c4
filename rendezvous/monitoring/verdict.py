"""How a batch's monitoring result is told: a table, a short verdict, an event payload.

Plain data and text; the Prefect tasks turn them into artifacts and events.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rendezvous.monitoring.metrics_store import json_ready
from rendezvous.printing import markdown

if TYPE_CHECKING:  # the monitor pulls scipy in; `status` and `drift` only read its verdicts
    from rendezvous.monitoring.batch_monitor import MonitorResult

DRIFT_EVENT = "rendezvous.drift.detected"
TABLE_KEY = "drift-table"
VERDICT_KEY = "drift-verdict"
# Rows that carry bookkeeping rather than a judgement stay out of the table.
QUIET_METRICS = frozenset({"n_rows", "profile_rows", "reference"})


def fmt_number(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.4f}".rstrip("0").rstrip(".") if value else "0"


def rule_text(row: dict[str, Any]) -> str:
    threshold = row["threshold"]
    if threshold is None or (isinstance(threshold, float) and math.isnan(threshold)):  # NaN from the table
        return ""
    sign = "<" if (row["detail"] or {}).get("direction") == "below" else ">"
    return f"alert if {sign} {fmt_number(row['threshold'])}"


def note_text(row: dict[str, Any]) -> str:
    detail = row["detail"] or {}
    parts = [r for r in detail.get("reasons", []) if r != "statistic"]
    if detail.get("unseen"):
        shown = ", ".join(f"{k} ({v})" for k, v in list(detail["unseen"].items())[:3])
        parts.append(f"new categories: {shown}")
    if detail.get("error"):
        parts.append(str(detail["error"]))
    return "; ".join(parts)


def comparison_of(row: dict[str, Any]) -> str:
    detail = row["detail"] or {}
    if row["feature"] is not None:
        return "feature vs reference"
    return detail.get("comparison") or row["metric"].replace("_", " ")


def table_rows(result: MonitorResult) -> list[dict[str, Any]]:
    """The batch's judgements, alerts first: what the table artifact shows."""
    rows = [r for r in result.rows if r["metric"] not in QUIET_METRICS]
    rows.sort(key=lambda r: (not r["alert"], comparison_of(r), r["feature"] or ""))
    return [
        {
            "alert": "ALERT" if r["alert"] else "",
            "comparison": comparison_of(r),
            "feature": r["feature"] or "",
            "metric": r["metric"],
            "value": fmt_number(r["value"]),
            "rule": rule_text(r),
            "model": r["model_version"] or "",
            "note": note_text(r),
        }
        for r in rows
    ]


def _alert_line(row: dict[str, Any]) -> str:
    what = f"**{markdown(row['feature'])}**" if row["feature"] else markdown(comparison_of(row))
    note = note_text(row)
    figure = f"{row['metric']} = {fmt_number(row['value'])} ({rule_text(row) or 'rule'})"
    return f"- {what}: {markdown(figure)}" + (f"; {markdown(note)}" if note else "")


def verdict_markdown(result: MonitorResult) -> str:
    """A few lines a person reads first: drift or not, where, against what."""
    features = [r for r in result.rows if r["feature"] is not None]
    drifted = [r for r in features if r["alert"]]
    score_alerts = [r for r in result.alerts if r["feature"] is None and r["metric"] != "drift_share"]
    state = "**DRIFT**" if result.alert else "no drift"
    lines = [
        f"### Batch {markdown(result.source)}: {state}",
        "",
        f"{result.n_rows:,} rows (statistics on a sample of {result.n_sample:,}); live "
        f"{markdown(result.live_version)}, canary {markdown(result.canary_version or 'none')}.",
        f"Reference of the live model: {markdown(result.profile)}.",
        "",
    ]
    if features:
        lines.append(f"Features: {len(drifted)} of {len(features)} drifted from the reference.")
    else:
        lines.append("Features: not compared (no reference profile yet).")
    lines += ["", *[_alert_line(r) for r in drifted]] if drifted else []
    if any(r["metric"] == "drift_share" and r["alert"] for r in result.rows):
        lines += ["", "Dataset drift: at least the configured share of features drifted."]
    if score_alerts:
        lines += ["", "Scores:", "", *[_alert_line(r) for r in score_alerts]]
    pair = {r["metric"]: r["value"] for r in result.rows if r["role"] == "canary"}
    if pair:
        lines.append("")
        lines.append(
            f"Live vs canary: agreement {fmt_number(pair.get('agreement'))}, "
            f"quantile shift {fmt_number(pair.get('quantile_shift'))}, "
            f"mean |diff| {fmt_number(pair.get('mean_abs_diff'))}."
        )
    return "\n".join(lines)


def failure_markdown(source: str, error: str) -> str:
    """The verdict artifact of a batch whose monitoring failed (the batch itself commits)."""
    return (
        f"### Batch {markdown(source)}: monitoring failed\n\n{markdown(error)}\n\n"
        "The batch was scored and committed; its drift was not measured."
    )


def alert_summary(result: MonitorResult) -> str:
    """One line naming what alerted: features by name, score comparisons by metric."""
    return ", ".join(sorted({r["feature"] or f"{comparison_of(r)} {r['metric']}" for r in result.alerts}))


def event_resource(result: MonitorResult) -> dict[str, str]:
    return {
        "prefect.resource.id": f"rendezvous.batch.{result.batch_id}",
        "prefect.resource.name": result.source,
        "rendezvous.live-version": result.live_version,
    }


def event_related(result: MonitorResult) -> list[dict[str, str]]:
    versions = {"live": result.live_version, "canary": result.canary_version}
    return [
        {
            "prefect.resource.id": f"rendezvous.model.{version}",
            "prefect.resource.role": "model",
            "prefect.resource.name": version,
            "rendezvous.role": role,
        }
        for role, version in versions.items()
        if version
    ]


def event_payload(result: MonitorResult) -> dict[str, Any]:
    """The batch, the drifted features and the figures: enough for a notification's text."""
    payload = {
        "batch_id": result.batch_id,
        "source": result.source,
        "live_version": result.live_version,
        "canary_version": result.canary_version,
        "rows": result.n_rows,
        "features": sorted(set(result.drifted_features)),
        "figures": [
            {
                "comparison": comparison_of(r),
                "feature": r["feature"],
                "model_version": r["model_version"],
                "metric": r["metric"],
                "value": r["value"],
                "threshold": r["threshold"],
                "reasons": (r["detail"] or {}).get("reasons", []),
            }
            for r in result.alerts
        ],
    }
    return json_ready(payload)
