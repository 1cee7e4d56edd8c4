"""The rendezvous end to end: a live model that raises on some rows, answers NaN, fails every row
or is past the deadline, with the canary answering. The response is complete and says who served
each row, a row no model answered is quarantined with each model's reason, every model's scores
are logged (verify's checks count them per role), and the fallback is reported."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from faulty_models import register_faulty
from prefect.events.schemas.automations import AutomationCore
from prefect.events.schemas.events import Resource
from typer.testing import CliRunner

from flows.score_batches import score_batches
from rendezvous.batchfiles import sha256_file
from rendezvous.cli import app
from rendezvous.demo.data import make_requests
from rendezvous.ledger import batch_id_for
from rendezvous.monitoring.report import build_report
from rendezvous.response_policy import NO_MODEL_ANSWERED
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings
from rendezvous.verify import verify
from tasks import observability

pytestmark = pytest.mark.usefixtures("prefect_api")
ROWS, NAME = 40, "fallback.csv"
ROOT = Path(__file__).resolve().parents[2]


def _request_batch(home: Path) -> tuple[pd.DataFrame, Path]:
    customers = pd.read_parquet(get_services().settings.reference_url)
    frame = make_requests(ROWS, customers, datetime(2026, 11, 21, tzinfo=UTC), seed=11, id_prefix="fb")
    path = home / "inbox" / NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return frame, path


def _serve(home: Path, tmp_path: Path, seed_demo: Any, live: str, canary: str | None) -> dict[str, Any]:
    """Score one batch of ROWS rows with the demo's models misbehaving as ``live`` and ``canary``
    say (None: as trained), below the 30th and 10th percentile of credit_score; the outcome,
    with the rows and the events emitted."""
    seed_demo(rows=None, roles={"live": "candidate", "canary": "candidate"})
    services = get_services()
    frame, path = _request_batch(home)
    low, lower = frame["credit_score"].quantile([0.3, 0.1])
    response = home / "outbox" / batch_id_for(NAME, sha256_file(str(path))) / "response.csv"
    how = {
        "raise": {"mode": "raise", "feature": "credit_score", "below": low},
        "nan": {"mode": "nan", "feature": "credit_score", "below": low},
        "every": {"mode": "raise", "feature": "credit_score", "below": float("inf")},
        "late": {"mode": "late", "wait_for": str(response)},
        "nan-lower": {"mode": "nan", "feature": "credit_score", "below": lower},
    }
    demo_live = services.registry.get("demo-live-v1")
    register_faulty(services, demo_live, "live", "bad-live", tmp_path, **how[live])
    wrapped = services.registry.get("demo-canary-v1")
    if canary is None:
        trusted = wrapped.trusted_types
        services.registry.register(wrapped.path, "canary", version="canary", trust_types=trusted)
    else:
        register_faulty(services, wrapped, "canary", "canary", tmp_path, **how[canary])
    (outcome,) = score_batches()
    return {"outcome": outcome, "frame": frame, "low": low, "lower": lower}


@pytest.fixture(autouse=True)
def slices_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    """Enough calls to isolate every row a model raises on (30% of the batch)."""
    monkeypatch.setenv("RENDEZVOUS_MAX_MODEL_SLICES", "400")
    get_settings.cache_clear()
    forget_services()


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    emitted: list[dict[str, Any]] = []
    monkeypatch.setattr(
        observability, "emit_event", lambda event, **fields: emitted.append({"event": event, **fields})
    )
    return emitted


def _served_by(outcome: dict[str, Any]) -> pd.Series:
    response = pd.read_csv(outcome["outputs"]["response"])
    assert response["request_id"].is_unique
    return response.set_index("request_id")["served_by"]


def _checked(outcome: dict[str, Any], expected: pd.Series, events: list[dict[str, Any]]) -> None:
    """Committed, every row accounted for, served as ``expected`` (None: quarantined), the log
    complete (verify), the ledger's counts, the event."""
    assert outcome["state"] == "committed", outcome
    assert outcome["rows_in"] == ROWS == outcome["rows_scored"] + outcome["rows_quarantined"]
    answered = expected.dropna()
    assert _served_by(outcome).sort_index().to_dict() == answered.sort_index().to_dict()
    assert outcome["served_by"] == {role: int((answered == role).sum()) for role in ("live", "canary")}
    assert {r.name: r.breaches for r in verify(get_services()) if not r.ok} == {}
    (event,) = events
    assert event["event"] == "rendezvous.fallback"
    assert event["payload"]["served_by"] == outcome["served_by"]
    spec = yaml.safe_load((ROOT / "automations" / "fallback-alert.yaml").read_text())
    automation = AutomationCore.model_validate(spec)  # the shipped automation matches the event
    assert automation.trigger.expect == {event["event"]}
    assert automation.trigger.match.matches(Resource.model_validate(event["resource"]))


def test_rows_the_live_model_raises_on_are_served_by_the_canary(
    home: Path, tmp_path: Path, seed_demo: Any, events: list[dict[str, Any]]
) -> None:
    """...and a row the canary cannot score either (NaN) is quarantined with both reasons."""
    run = _serve(home, tmp_path, seed_demo, live="raise", canary="nan-lower")
    frame, outcome = run["frame"].set_index("request_id"), run["outcome"]
    expected = pd.Series("live", index=frame.index, dtype=object)
    expected[frame["credit_score"] < run["low"]] = "canary"
    unanswered = frame["credit_score"] < run["lower"]
    expected[unanswered] = None
    assert 0 < unanswered.sum() < (expected == "canary").sum()

    _checked(outcome, expected, events)
    rejects = pd.read_csv(outcome["outputs"]["rejects"])
    assert set(rejects["rule"]) == {NO_MODEL_ANSWERED}
    assert sorted(set(rejects["request_id"])) == sorted(frame.index[unanswered])
    reasons = rejects.groupby("request_id")["value"].apply(set)
    both = {"live bad-live: ValueError: cannot score 1 of 1 rows", "canary canary: score is nan"}
    assert all(why == both for why in reasons), reasons  # halving isolated each row
    shown = CliRunner().invoke(app, ["batches", "show", NAME])
    served = outcome["served_by"]
    assert f"served by live {served['live']}, canary {served['canary']}; 0 late" in shown.output


def test_rows_the_live_model_answers_nan_for_are_served_by_the_canary(
    home: Path, tmp_path: Path, seed_demo: Any, events: list[dict[str, Any]]
) -> None:
    run = _serve(home, tmp_path, seed_demo, live="nan", canary=None)
    frame = run["frame"].set_index("request_id")
    expected = pd.Series("live", index=frame.index, dtype=object)
    expected[frame["credit_score"] < run["low"]] = "canary"
    _checked(run["outcome"], expected, events)
    assert run["outcome"]["rows_late"] == 0


def test_a_live_model_failing_every_row_does_not_stop_the_batch(
    home: Path, tmp_path: Path, seed_demo: Any, events: list[dict[str, Any]]
) -> None:
    run = _serve(home, tmp_path, seed_demo, live="every", canary=None)
    frame = run["frame"].set_index("request_id")
    _checked(run["outcome"], pd.Series("canary", index=frame.index, dtype=object), events)
    status = CliRunner().invoke(app, ["status"])
    assert f"served by live 0, canary {ROWS}; 0 late" in status.output
    page = build_report(get_services())
    fallbacks = page[page.index('<section id="fallbacks">') :]
    assert run["outcome"]["batch_id"] in fallbacks and "No fallback" not in fallbacks


def test_a_live_model_past_the_deadline_is_logged_after_the_response(
    home: Path, tmp_path: Path, seed_demo: Any, events: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live model answers only once the response is out: the canary served every row, late,
    and the live scores were still logged before the batch committed (verify counts them)."""
    monkeypatch.setenv("RENDEZVOUS_RESPONSE_DEADLINE_SECONDS", "0.05")
    get_settings.cache_clear()
    forget_services()
    run = _serve(home, tmp_path, seed_demo, live="late", canary=None)
    frame = run["frame"].set_index("request_id")
    _checked(run["outcome"], pd.Series("canary", index=frame.index, dtype=object), events)
    assert run["outcome"]["rows_late"] == ROWS
    assert events[0]["payload"]["rows_late"] == ROWS
