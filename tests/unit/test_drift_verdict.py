"""How a monitoring result is told: table (alerts first), verdict, event payload; --since."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from rendezvous.monitoring.batch_monitor import MonitorResult
from rendezvous.monitoring.report import parse_since
from rendezvous.monitoring.verdict import (
    TABLE_KEY,
    VERDICT_KEY,
    alert_summary,
    event_payload,
    event_related,
    event_resource,
    table_rows,
    verdict_markdown,
)


def row(metric, feature=None, value=0.0, threshold=None, alert=False, role="live", **detail):
    return {
        "role": role,
        "model_version": "live-1" if role == "live" else "canary-1",
        "metric": metric,
        "feature": feature,
        "value": value,
        "threshold": threshold,
        "alert": alert,
        "detail": detail,
    }


def result(rows) -> MonitorResult:
    return MonitorResult("b-1", "b.csv", "live-1", "canary-1", 5000, 5000, "training (10 rows)", rows)


DRIFTED = result(
    [
        row("wasserstein", "income", 0.02, 0.1, direction="above", reasons=[]),
        row("jensenshannon", "purpose", 0.3, 0.1, True, direction="above", reasons=["statistic", "unseen"],
            unseen={"crypto": 120}),
        row("ks", "amount", float("nan"), 0.05, True, direction="below", reasons=["missing_share"]),
        row("n_rows", value=5000.0, role="canary"),
        row("agreement", value=0.8, threshold=0.9, alert=True, role="canary", comparison="live vs canary",
            direction="below"),
        row("drift_share", value=2 / 3, threshold=0.5, alert=True, comparison="feature vs reference"),
    ]
)  # fmt: skip


def test_keys_are_stable_and_valid_artifact_keys():
    for key in (TABLE_KEY, VERDICT_KEY):
        assert re.fullmatch(r"[a-z0-9-]+", key)


def test_table_lists_alerts_first_without_bookkeeping_rows():
    table = table_rows(DRIFTED)
    assert [r["alert"] for r in table] == ["ALERT"] * 4 + [""]
    assert "n_rows" not in {r["metric"] for r in table}
    purpose = next(r for r in table if r["feature"] == "purpose")
    assert purpose["rule"] == "alert if > 0.1" and "crypto (120)" in purpose["note"]
    agreement = next(r for r in table if r["metric"] == "agreement")
    assert agreement["rule"] == "alert if < 0.9" and agreement["comparison"] == "live vs canary"
    assert next(r for r in table if r["feature"] == "amount")["value"] == "-"  # NaN: no data


def test_verdict_says_drift_where_and_against_what():
    text = verdict_markdown(DRIFTED)
    assert "**DRIFT**" in text and "b.csv" in text
    assert "2 of 3 drifted" in text and "**purpose**" in text and "**income**" not in text
    assert "Dataset drift" in text and "agreement 0.8" in text
    clean = verdict_markdown(result([row("wasserstein", "income", 0.02, 0.1, direction="above")]))
    assert "no drift" in clean and "0 of 1 drifted" in clean


def test_event_names_batch_features_and_figures_as_plain_json():
    payload = event_payload(DRIFTED)
    json.dumps(payload, allow_nan=False)  # NaN became null
    assert payload["features"] == ["amount", "purpose"]
    assert {f["metric"] for f in payload["figures"]} == {"jensenshannon", "ks", "agreement", "drift_share"}
    assert event_resource(DRIFTED)["prefect.resource.id"] == "rendezvous.batch.b-1"
    assert {r["rendezvous.role"] for r in event_related(DRIFTED)} == {"live", "canary"}


def test_since_takes_durations_and_dates():
    now = datetime(2026, 11, 10, 12, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("36h", now) == now - timedelta(hours=36)
    assert parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T10:00:00+02:00", now) == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert parse_since(None) is None
    with pytest.raises(ValueError):
        parse_since("last tuesday", now)


def test_alert_summary_names_features_and_score_comparisons_once():
    assert alert_summary(DRIFTED) == (
        "amount, feature vs reference drift_share, live vs canary agreement, purpose"
    )
