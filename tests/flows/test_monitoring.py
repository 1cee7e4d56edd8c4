"""Drift monitoring on the demo, end to end against Prefect's real local API: the shifted batch
raises its alerts and the clean ones do not; metrics, artifacts, the event, status, the report."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter
from prefect.events.schemas.automations import AutomationCore
from prefect.events.schemas.events import Resource
from sqlalchemy import insert, select
from typer.testing import CliRunner

import flows.score_batches as score_batches_module
from flows.drift_report import drift_report
from flows.score_batches import BatchesFailed, score_batches
from rendezvous import pipeline
from rendezvous.cli import app
from rendezvous.demo.batches import SHIFTED, demo_labels
from rendezvous.demo.bootstrap import build_demo
from rendezvous.demo.data import make_customers, make_requests
from rendezvous.monitoring import batch_monitor
from rendezvous.monitoring.metrics_store import read_metrics
from rendezvous.monitoring.profile import decode_rows
from rendezvous.monitoring.report import build_report
from rendezvous.monitoring.report.figures import feature_drift_figure
from rendezvous.monitoring.report.panels import ROTATION
from rendezvous.monitoring.report.rotations import read_rotations
from rendezvous.pipeline import BatchJob
from rendezvous.scorelog import read as scorelog
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings
from rendezvous.store.schema import batches, labels, metrics, role_changes

pytestmark = pytest.mark.usefixtures("prefect_api")

ROOT = Path(__file__).resolve().parents[2]
CLEAN = [
    "loans-2026-11-01.csv",
    "loans-2026-11-02.parquet",
    "loans-2026-11-03.jsonl",
    "loans-2026-11-04-bad-rows.csv",
]
# The demo's shift: income x0.6, credit score -60, mostly business loans (loan_to_income follows
# from income). 2000 rows per batch, as `make demo`: distances (not p-values) judge the features.
SHIFTED_FEATURES = {"annual_income", "credit_score", "loan_to_income", "purpose"}
ROWS = 2000


def _reset() -> None:
    get_settings.cache_clear()
    forget_services()


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("monitoring")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RENDEZVOUS_HOME", str(root / "home"))
        patch.setenv("RENDEZVOUS_MODELS_DIR", str(root / "models"))
        _reset()
        yield root / "home"
    _reset()


@pytest.fixture(scope="module")
def demo(demo_home: Path, prefect_api: None) -> dict[str, dict]:
    started = datetime.now(UTC)
    build_demo(get_services(), rows_per_batch=ROWS)
    outcomes = {o["source"]: o for o in score_batches()}
    return {"outcomes": outcomes, "started": started}


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo: dict) -> Iterator[Path]:
    """A second home with the demo's reference table and model files, no models registered."""
    demo_services = get_services()
    live, canary = demo_services.registry.by_role("live"), demo_services.registry.by_role("canary")
    reference = demo_services.settings.reference_url
    home = tmp_path / "home"
    (home / "reference").mkdir(parents=True)
    shutil.copy(reference, home / "reference" / "customers.parquet")
    monkeypatch.setenv("RENDEZVOUS_HOME", str(home))
    monkeypatch.setenv("RENDEZVOUS_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("RENDEZVOUS_MONITORING", json.dumps({"first_batches_rows": 1500}))
    _reset()
    registry = get_services().registry
    registry.register(live.path, "live", version="own-live", trust_types=live.trusted_types)  # no profile
    registry.register(canary.path, "canary", version="own-canary", trust_types=canary.trusted_types)
    yield home
    _reset()  # the module's demo home comes back once monkeypatch restores the environment


def _drop_batch(home: Path, name: str, rows: int, seed: int) -> None:
    customers = pd.read_parquet(home / "reference" / "customers.parquet")
    start = datetime(2026, 11, 10 + seed, tzinfo=UTC)
    frame = make_requests(rows, customers, start, seed=seed, id_prefix=f"own{seed}")
    (home / "inbox").mkdir(exist_ok=True)
    frame.to_csv(home / "inbox" / name, index=False)


def _metrics(source: str) -> pd.DataFrame:
    frame = read_metrics(get_services().store, batch_id=source)
    assert not frame.empty, source
    return frame


# --- the demo's verdicts -------------------------------------------------------------------


def test_shifted_batch_alerts_on_its_shifted_features_only(demo: dict) -> None:
    m = _metrics(SHIFTED)
    features = m[m["feature"].notna()]
    assert len(features) == 14  # every model feature, against the live model's reference
    assert set(features.loc[features["alert"], "feature"]) == SHIFTED_FEATURES
    assert set(features["metric"]) == {"wasserstein", "jensenshannon"}
    reference = m[(m["role"] == "live") & m["feature"].isna()].set_index("metric")
    assert reference.loc["psi", "alert"] and reference.loc["psi", "value"] > 0.2
    pair = m[m["role"] == "canary"].set_index("metric")
    assert {"quantile_shift", "ks", "psi", "agreement", "mean_abs_diff", "n_rows"} <= set(pair.index)
    assert pair.loc["n_rows", "value"] == ROWS
    assert pair.loc["agreement", "model_version"] == "demo-canary-v1"


@pytest.mark.parametrize("source", CLEAN)
def test_clean_batches_raise_no_alert(demo: dict, source: str) -> None:
    m = _metrics(source)
    assert not m["alert"].any(), m.loc[m["alert"], ["metric", "feature", "value", "threshold"]]
    assert (m["feature"].notna()).sum() == 14
    assert "monitor_error" not in set(m["metric"])


def test_the_pair_is_judged_against_itself_on_the_live_models_reference(demo: dict) -> None:
    """Both models scored once on the live profile's reference rows, kept there; every batch's
    pair rules are limits around the pair's own figures on those rows."""
    live = get_services().registry.by_role("live")
    kept = live.profile["pairs"]["demo-live-v1 vs demo-canary-v1"]
    assert kept["rows"] == 8_000  # the demo's holdout, all of it
    for source in [*CLEAN, SHIFTED]:
        m = _metrics(source)
        pair = m[m["role"] == "canary"].set_index("metric")
        for name in ("quantile_shift", "ks", "psi", "agreement", "mean_abs_diff"):
            reference = pair.loc[name, "detail"]["reference_value"]
            limit = pair.loc[name, "threshold"]
            assert reference is not None and limit == limit  # judged (not NaN)
            assert limit < reference if name == "agreement" else limit > reference


def test_rejected_and_duplicate_files_are_not_monitored(demo: dict) -> None:
    with get_services().store.begin() as conn:
        monitored = set(conn.execute(select(metrics.c.batch_id).distinct()).scalars())
    outcomes = demo["outcomes"]
    assert monitored == {outcomes[name]["batch_id"] for name in [*CLEAN, SHIFTED]}


def test_monitoring_a_batch_again_replaces_its_rows(demo: dict) -> None:
    services = get_services()
    outcome = demo["outcomes"][CLEAN[0]]
    live, canary, _ = services.registry.serving_set()
    job = BatchJob(outcome["batch_id"], CLEAN[0], "", "", "csv", "test", 1, live, canary)
    before = _metrics(CLEAN[0])
    batch_monitor.monitor_batch(services, job)
    after = _metrics(CLEAN[0])
    assert len(after) == len(before)
    pd.testing.assert_series_equal(after["value"], before["value"], check_index=False)


# --- Prefect: artifacts and the event ------------------------------------------------------


def test_artifacts_under_stable_keys(demo: dict) -> None:
    with get_client(sync_client=True) as client:
        tables = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["drift-table"]))
        )
        verdicts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["drift-verdict"]))
        )
    mine = [v for v in verdicts if v.created >= demo["started"]]
    assert len([t for t in tables if t.created >= demo["started"]]) >= 5  # one per monitored batch
    shifted = [v for v in mine if SHIFTED in v.data]
    assert len(shifted) == 1 and "**DRIFT**" in shifted[0].data
    assert all(name in shifted[0].data for name in SHIFTED_FEATURES)
    clean = [v for v in mine if CLEAN[0] in v.data]
    assert clean and "no drift" in clean[0].data
    table = json.loads(next(t for t in tables if t.created >= demo["started"]).data)
    assert {"alert", "comparison", "feature", "metric", "value", "rule"} <= set(table[0])


def _drift_events(since: datetime) -> list:
    event_filter = EventFilter(
        event=EventNameFilter(name=["rendezvous.drift.detected"]),
        occurred=EventOccurredFilter(since=since, until=datetime.now(UTC) + timedelta(minutes=1)),
    )
    with get_client(sync_client=True) as client:
        return list(client.read_events(filter=event_filter, limit=50).events)


def test_drift_event_is_emitted_for_the_shifted_batch_only(demo: dict) -> None:
    batch_id = demo["outcomes"][SHIFTED]["batch_id"]
    deadline = time.monotonic() + 60
    events = _drift_events(demo["started"])  # events are persisted asynchronously
    while not events and time.monotonic() < deadline:
        time.sleep(0.5)
        events = _drift_events(demo["started"])
    ours = [e for e in events if e.resource.id.startswith("rendezvous.batch.")]
    assert [e.resource.id for e in ours] == [f"rendezvous.batch.{batch_id}"]
    payload = ours[0].payload
    assert set(payload["features"]) == SHIFTED_FEATURES
    assert payload["source"] == SHIFTED and payload["live_version"] == "demo-live-v1"
    figures = {f["feature"]: f for f in payload["figures"] if f["feature"]}
    assert figures["credit_score"]["metric"] == "wasserstein"
    assert figures["credit_score"]["value"] > figures["credit_score"]["threshold"] == 0.1
    assert {r.role for r in ours[0].related} >= {"model", "flow-run"}
    # The shipped automation is valid, is accepted by the API, and matches this event.
    spec = yaml.safe_load((ROOT / "automations" / "drift-alert.yaml").read_text())
    automation = AutomationCore.model_validate(spec)
    assert automation.trigger.expect == {"rendezvous.drift.detected"}
    assert automation.trigger.match.matches(Resource.model_validate(dict(ours[0].resource)))
    with get_client(sync_client=True) as client:
        created = client.create_automation(automation)
        assert client.read_automation(created).name == "rendezvous drift alert"
        client.delete_automation(created)


# --- status, CLI, report --------------------------------------------------------------------


def test_status_shows_the_shifted_batch_alerts(demo: dict) -> None:
    runner = CliRunner()
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    alerts = status["monitoring"]["alerts"]
    assert [a["source"] for a in alerts] == [SHIFTED]
    assert set(alerts[0]["features"]) == SHIFTED_FEATURES
    profiles = {p["role"]: p["profile"] for p in status["monitoring"]["profiles"]}
    assert profiles["live"].startswith("training holdout")
    text = runner.invoke(app, ["status"]).stdout
    assert "Drift alerts" in text and SHIFTED in text and "credit_score" in text
    shown = runner.invoke(app, ["drift", SHIFTED]).stdout
    assert "ALERT" in shown and "annual_income" in shown


def _add_demo_labels() -> int:
    customers = make_customers(5000, seed=7)
    frames = demo_labels(customers, seed=7, rows=ROWS)
    rows = [
        {"request_id": rid, "outcome": str(outcome), "source": name, "received_at": datetime.now(UTC)}
        for name, frame in frames.items()
        for rid, outcome in zip(frame["request_id"], frame["defaulted"], strict=True)
    ]
    with get_services().store.begin() as conn:
        conn.execute(insert(labels), rows)
    return len(rows)


@pytest.fixture
def labels_removed_after(demo: dict) -> Iterator[None]:
    """The module's demo is shared: labels a test adds are gone before the next test."""
    yield
    with get_services().store.begin() as conn:
        conn.execute(labels.delete())


@pytest.mark.usefixtures("labels_removed_after")
def test_realized_performance_once_labels_arrive(demo: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    empty = runner.invoke(app, ["performance"])
    assert "No labelled scores yet" in empty.stdout
    assert _add_demo_labels() == 4 * ROWS
    perf = json.loads(runner.invoke(app, ["performance", "--json"]).stdout)
    by_batch = {(p["window"], p["role"]): p for p in perf}
    assert set(by_batch) == {(name, role) for name in [*CLEAN[:3], SHIFTED] for role in ("live", "canary")}
    assert all(p["n"] == ROWS for p in perf)
    assert all(0.75 < p["roc_auc"] < 0.95 for p in perf)
    # The shifted applicants default more often: the observed positive rate shows it.
    assert by_batch[(SHIFTED, "live")]["positive_rate"] > 2 * by_batch[(CLEAN[0], "live")]["positive_rate"]

    # labels of one batch alone: the scored-id set names it, and only its score files are read
    scanned: list[list[str] | None] = []
    query = scorelog.query
    monkeypatch.setattr(scorelog, "query", lambda *a, **k: scanned.append(k["batch_ids"]) or query(*a, **k))
    store = get_services().store
    with store.begin() as conn:
        conn.execute(labels.delete().where(labels.c.source != SHIFTED))
        shifted = conn.execute(select(batches.c.id).where(batches.c.source == SHIFTED)).scalar_one()
    alone = json.loads(runner.invoke(app, ["performance", "--json"]).stdout)
    assert scanned == [[shifted]]
    assert alone == [by_batch[(SHIFTED, role)] for role in ("canary", "live")]


@pytest.mark.usefixtures("labels_removed_after")
def test_report_has_every_section_and_works_offline(demo: dict, tmp_path: Path) -> None:
    _add_demo_labels()
    services = get_services()
    with services.store.begin() as conn:  # a rotation between two batches, as a promotion leaves
        times = dict(conn.execute(select(metrics.c.batch_id, metrics.c.at)).all())
        between = sorted(times.values())[2] + timedelta(milliseconds=1)
        conn.execute(
            insert(role_changes).values(
                action="test-rotation",
                actor="test",
                before={"live": "demo-live-v1"},
                after={"live": "demo-live-v1", "canary": "demo-canary-v1"},
                at=between,
            )
        )
    try:
        out = tmp_path / "report.html"
        result = CliRunner().invoke(app, ["report", "-o", str(out)])
        assert result.exit_code == 0, result.stdout
        page = out.read_text()
        figure = feature_drift_figure(
            read_metrics(services.store), read_rotations(services.store), "scoring time"
        )
        marks = [shape.x0 for shape in figure.layout.shapes if shape.line.color == ROTATION]
        assert len(marks) == 14  # on every feature's time axis
    finally:
        with services.store.begin() as conn:
            conn.execute(role_changes.delete().where(role_changes.c.action == "test-rotation"))
    for anchor in ("models", "batches", "alerts", "distributions", "pair", "features", "reference",
                   "performance", "rotations"):  # fmt: skip
        assert f'id="{anchor}"' in page
    assert "<script src=" not in page and "Plotly" in page  # plotly.js inline: opens offline
    assert f"{SHIFTED} (ALERT)" in page and "labelled rows" in page and "test-rotation" in page
    later = build_report(services, since=datetime.now(UTC) + timedelta(days=1))
    assert "No batch monitored in this period" in later


def test_drift_report_flow_writes_the_page(demo: dict, tmp_path: Path) -> None:
    target = tmp_path / "daily.html"
    assert drift_report(days=1, output=str(target)) == str(target)
    assert 'id="features"' in target.read_text()


# --- models without a profile; monitoring failures ---------------------------------------


def test_first_batches_profile_then_drift(own_home: Path) -> None:
    runner = CliRunner()
    _drop_batch(own_home, "own-1.csv", 1000, seed=1)
    score_batches()
    first = _metrics("own-1.csv")
    assert first["feature"].isna().all()  # no reference yet: no feature drift, and says so
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    live = next(p for p in status["monitoring"]["profiles"] if p["role"] == "live")
    assert "first batches" in live["profile"] and "1,000 of 1,500 rows" in live["profile"]
    assert live["profile"] in build_report(get_services())  # the report says so too

    _drop_batch(own_home, "own-2.csv", 1000, seed=2)
    score_batches()
    second = _metrics("own-2.csv")
    assert set(second.loc[second["metric"] == "profile_built", "model_version"]) == {"own-live", "own-canary"}
    record = get_services().registry.get("own-live")
    assert record.profile["source"] == "first batches" and record.profile["n_rows"] == 1500
    assert record.profile["scores"]["n"] == 1500  # the model's own scores of those rows
    batch_ids = [first["batch_id"].iloc[0], second["batch_id"].iloc[0]]
    assert record.profile["fallback"] == {"batches": batch_ids, "rows_seen": 2000}
    # a random sample of both batches, not their first 1,500 rows in file order
    sampled = decode_rows(record.profile["rows"])["request_id"].str.rsplit("-", n=1, expand=True)
    late = (sampled[0] == "own2") & (sampled[1].astype(int) >= 500)  # the second batch's last half
    assert 250 < late.sum() < 500  # 375 expected; none when the first 1,500 rows were taken

    # 2,000 rows: at 1,000 the lognormal incomes of this seed are 0.11 reference deviations
    # (Wasserstein) from the first batches', above the 0.1 limit by chance alone
    _drop_batch(own_home, "own-3.csv", 2000, seed=3)
    score_batches()
    third = _metrics("own-3.csv")
    assert (third["feature"].notna()).sum() == 14
    assert not third["alert"].any()  # the same population as the first batches
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    live = next(p for p in status["monitoring"]["profiles"] if p["role"] == "live")
    assert live["profile"].startswith("fallback sample: 1,500 random rows of the 2,000 of its first batches")
    assert all(batch_id in live["profile"] for batch_id in batch_ids)
    drift = runner.invoke(app, ["drift", "own-3.csv"]).stdout
    assert "Reference of live own-live: fallback sample: 1,500 random rows" in " ".join(drift.split())


def test_a_monitoring_failure_never_loses_the_batch(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("statistics exploded")

    monkeypatch.setattr(batch_monitor, "monitor_batch", broken)
    _drop_batch(own_home, "own-9.csv", 500, seed=9)
    (outcome,) = score_batches()
    assert outcome["state"] == "committed" and outcome["rows_scored"] == 500
    m = _metrics("own-9.csv")
    assert list(m["metric"]) == ["monitor_error"]
    assert "statistics exploded" in m["detail"].iloc[0]["error"]
    status = json.loads(CliRunner().invoke(app, ["status", "--json"]).stdout)
    assert "monitoring failed" in status["monitoring"]["alerts"][0]["alerts"][0]


def test_a_batch_is_measured_while_it_commits_and_its_metrics_written_once_it_has(
    own_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The monitor reads the batch's own files while the commit writes the id index (the next
    batch starts sooner), and writes its metrics only once the batch committed."""
    measured = threading.Event()
    summarize, commit, write = batch_monitor._summarize, pipeline.commit, batch_monitor.replace_batch_metrics

    def summarized(*args, **kwargs):
        try:
            return summarize(*args, **kwargs)
        finally:
            measured.set()

    measured_before_the_commit: list[bool] = []

    def held_commit(*args, **kwargs):
        measured_before_the_commit.append(measured.wait(timeout=60))  # never set if run one after the other
        return commit(*args, **kwargs)

    states_when_written: list[str] = []

    def written(conn, batch_id: str, rows: list) -> None:
        states_when_written.append(get_services().ledger.get(batch_id).state)
        write(conn, batch_id, rows)

    monkeypatch.setattr(batch_monitor, "_summarize", summarized)
    monkeypatch.setattr(pipeline, "commit", held_commit)
    monkeypatch.setattr(batch_monitor, "replace_batch_metrics", written)
    _drop_batch(own_home, "own-11.csv", 500, seed=11)
    (outcome,) = score_batches()
    assert outcome["state"] == "committed"
    assert measured_before_the_commit == [True]
    assert states_when_written == ["committed"]
    assert "profile_rows" in set(_metrics("own-11.csv")["metric"])


@pytest.mark.parametrize("monitor", ["measures", "raises"])
def test_a_batch_that_does_not_commit_gets_no_metrics(
    own_home: Path, monkeypatch: pytest.MonkeyPatch, monitor: str
) -> None:
    """Measured while it commits, a batch whose commit fails for good stays claimable with no
    metrics, not even the monitor's own failure."""

    def failing(*args, **kwargs):
        raise RuntimeError("the disk is full")

    def exploded(*args, **kwargs):
        raise RuntimeError("statistics exploded")

    monkeypatch.setattr(pipeline, "commit", failing)
    if monitor == "raises":
        monkeypatch.setattr(batch_monitor, "_summarize", exploded)
    _drop_batch(own_home, "own-12.csv", 500, seed=12)
    with pytest.raises(BatchesFailed, match="stay claimable"):
        score_batches()
    assert read_metrics(get_services().store, batch_id="own-12.csv", committed_only=False).empty


@pytest.mark.parametrize("monitor", ["beside the commit", "after the commit (as on Dask)"])
def test_a_batch_its_commit_closes_as_rejected_gets_no_metrics(
    own_home: Path, monkeypatch: pytest.MonkeyPatch, monitor: str
) -> None:
    """The commit completes, but closes the batch as rejected (as it does when every id was
    scored before): measured meanwhile or not, the batch gets no metrics."""
    commit = pipeline.commit
    if monitor.startswith("after"):
        monkeypatch.setattr(score_batches_module, "on_threads", lambda settings: False)

    def rejecting(services, job, rejected_reason):
        return commit(services, job, "rejected at the commit")

    monkeypatch.setattr(pipeline, "commit", rejecting)
    _drop_batch(own_home, "own-13.csv", 500, seed=13)
    (outcome,) = score_batches()
    assert outcome["state"] == "rejected"
    assert read_metrics(get_services().store, batch_id="own-13.csv", committed_only=False).empty
