"""The promotion loop on the demo, against Prefect's real local API: labels, training, shadow
scoring, a paused promotion resumed through the API (approve, reject, timeout), the one-at-a-time
gate, the sha256 gate, rollback, and a rotation in the middle of a batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pandas as pd
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.flow_runs import resume_flow_run
from prefect.settings import PREFECT_API_URL
from score_rows import score_rows
from sqlalchemy import select
from typer.testing import CliRunner

from flows.promote_model import promote_model, waiting_approvals
from flows.score_batches import score_batches
from flows.train_candidate import train_candidate
from rendezvous import pipeline
from rendezvous.cli import app
from rendezvous.demo.bootstrap import build_demo
from rendezvous.demo.traffic import write_traffic
from rendezvous.promotion import audit, gate, review
from rendezvous.promotion.labels import add_labels, read_label_file
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings
from rendezvous.store.schema import batches, promotions, role_changes
from rendezvous.trust.audit_signatures import signature_breaks
from rendezvous.trust.keys import generate, read_approvers
from rendezvous.trust.signing import report_hash

pytestmark = pytest.mark.usefixtures("prefect_api")
ROOT = Path(__file__).resolve().parents[2]
BASE = "cand-base"


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("promotion")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RENDEZVOUS_HOME", str(root / "home"))
        patch.setenv("RENDEZVOUS_MODELS_DIR", str(root / "models"))
        patch.setenv("RENDEZVOUS_APPROVAL_POLL_SECONDS", "1")
        patch.setenv("RENDEZVOUS_APPROVAL_TIMEOUT_SECONDS", "120")
        get_settings.cache_clear()
        forget_services()
        yield root / "home"
    get_settings.cache_clear()
    forget_services()


@contextmanager
def _settings(**env: str) -> Iterator[None]:
    """Settings overridden for one block, and re-read after it (they are cached per process)."""
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(f"RENDEZVOUS_{name}", value)
            get_settings.cache_clear()
            yield
    finally:
        get_settings.cache_clear()


def _demo_label_files(home: Path) -> list[Path]:
    return sorted((home / "labels").glob("labels-2026-11-0*.csv"))


def _add_label_files(paths: list[Path]) -> list[Any]:
    services = get_services()
    s = services.settings
    return [
        add_labels(services.store, read_label_file(str(p), s.id_column, [s.label_column]), p.name)[0]
        for p in paths
    ]


@pytest.fixture(scope="module")
def trained(demo_home: Path, prefect_api: None) -> dict[str, Any]:
    """The demo (200 rows a batch), scored, labelled, and one trained candidate."""
    build_demo(get_services(), rows_per_batch=200)
    score_batches()
    reports = _add_label_files(_demo_label_files(demo_home))
    result = train_candidate(version=BASE)
    return {"labels": reports, "train": result}


@pytest.fixture
def home(demo_home: Path, trained: dict[str, Any]) -> Path:
    return demo_home


def _roles() -> dict[str, str | None]:
    registry = get_services().registry
    live, canary = registry.by_role("live"), registry.by_role("canary")
    return {"live": live.version if live else None, "canary": canary.version if canary else None}


def _fresh_candidate(version: str) -> str:
    """Another candidate with the trained one's bytes and provenance."""
    registry = get_services().registry
    base = registry.get(BASE)
    registry.register(
        base.path, "candidate", version=version, metadata=base.metadata, trust_types=base.trusted_types
    )
    return version


def _start(candidate: str, **params: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: out.setdefault(
            "state", promote_model(candidate=candidate, return_state=True, **params)
        )
    )
    thread.start()
    return thread, out


def _waiting_run(candidate: str, thread: threading.Thread) -> dict[str, Any]:
    """The paused run of this candidate (bounded wait; fails if the flow ended instead)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and thread.is_alive():
        for run in waiting_approvals():
            if run["candidate"] == candidate:
                return run
        time.sleep(0.2)
    raise AssertionError(f"the promotion of {candidate} never waited for a decision")


def _promotion_rows() -> list[Any]:
    with get_services().store.begin() as conn:
        return conn.execute(select(promotions).order_by(promotions.c.id)).all()


def test_labels_are_stored_once_and_unknown_ids_reported(home: Path, trained: dict[str, Any]) -> None:
    assert [r.stored for r in trained["labels"]] == [200, 200, 200, 200]
    runner = CliRunner()
    result = runner.invoke(app, ["labels", "add", *map(str, _demo_label_files(home)), "--json"])
    assert result.exit_code == 0, result.output
    again = json.loads(result.output)
    assert [(r["stored"], r["unchanged"]) for r in again] == [(0, 200)] * 4
    stray = home / "stray.csv"
    stray.write_text("request_id,defaulted\nr-20261101-000000,0\nr-19990101-000001,1\n")
    result = runner.invoke(app, ["labels", "add", str(stray), "--json"])
    (report,) = json.loads(result.output)
    assert report["rejected"] == {"unknown_request": 1}
    assert pd.read_csv(report["rejects_url"])["request_id"].tolist() == ["r-19990101-000001"]


def test_candidate_is_registered_with_holdout_figures_and_provenance(trained: dict[str, Any]) -> None:
    result = trained["train"]
    assert result["registered"] and result["role"] == "candidate"
    meta = result["metadata"]
    assert set(meta["holdout_metrics"]) == {"candidate", "live", "canary"}
    rows = {figures["rows"] for figures in meta["holdout_metrics"].values()}
    assert rows == {meta["holdout_rows"]}
    assert meta["trained_rows"] + meta["holdout_rows"] == 800
    assert meta["train_to"] < meta["holdout_from"]
    assert len(meta["data_fingerprint"]) == 64
    assert get_services().registry.get(BASE).profile is not None
    rerun = train_candidate()
    assert rerun["registered"] is False and rerun["version"] == BASE


def test_shadow_candidate_is_scored_but_never_returned(home: Path) -> None:
    shadowed = _fresh_candidate("cand-shadow")
    result = CliRunner().invoke(app, ["models", "shadow", shadowed, "on"])
    assert result.exit_code == 0, result.output
    customers = pd.read_parquet(get_services().settings.reference_url)
    write_traffic(home / "inbox", home / "labels", customers, 20, 1, rows=120)
    (outcome,) = score_batches()
    store = get_services().store
    rows = score_rows(store, "batch_id = ?", [outcome["batch_id"]])[["role", "model_version"]]
    by_role = rows.set_axis(["role", "version"], axis=1).value_counts().to_dict()
    assert by_role[("shadow", shadowed)] == by_role[("live", _roles()["live"])] == 120
    response = pd.read_csv(outcome["outputs"]["response"])
    assert set(response["model_version"]) == {_roles()["live"]}
    CliRunner().invoke(app, ["models", "shadow", shadowed, "off"])
    assert not get_services().registry.get(shadowed).shadow


def test_approval_through_the_api_rotates_and_audits(home: Path) -> None:
    candidate = _fresh_candidate("cand-approve")
    before = _roles()
    thread, out = _start(candidate)
    run = _waiting_run(candidate, thread)
    assert f"Promote `{candidate}`?" in run["description"]
    resume_flow_run(run["run_id"], run_input={"decision": "approve", "approver": "alice", "comment": "ok"})
    thread.join()
    assert out["state"].is_completed(), out["state"].message
    assert _roles() == {"live": candidate, "canary": before["live"]}
    assert get_services().registry.get(before["canary"]).role == "retired"
    proposal, change = audit.history(get_services().store, flow_run_id=run["run_id"])
    assert proposal["action"] == "propose"
    assert (change["action"], change["actor"], change["comment"]) == ("promote", "alice", "ok")
    assert change["before"] == {**before, "candidate": candidate}
    assert change["after"] == {"live": candidate, "canary": before["live"], "retired": before["canary"]}
    assert _promotion_rows()[-1].state == "approved"
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run["run_id"]]))
        )
    kinds = {a.key: a.type for a in artifacts}
    assert kinds == {"promotion-report": "table", "promotion-verdict": "markdown"}


def test_rejection_changes_nothing_and_is_recorded(home: Path) -> None:
    candidate = _fresh_candidate("cand-reject")
    before = _roles()
    thread, out = _start(candidate)
    run = _waiting_run(candidate, thread)
    resume_flow_run(run["run_id"], run_input={"decision": "reject", "approver": "bob", "comment": "not yet"})
    thread.join()
    assert out["state"].is_completed()
    assert _roles() == before
    assert get_services().registry.get(candidate).role == "candidate"
    proposal, change = audit.history(get_services().store, flow_run_id=run["run_id"])
    assert proposal["action"] == "propose"
    assert (change["action"], change["actor"]) == ("reject", "bob")
    assert change["before"] == change["after"]


def test_timeout_changes_nothing_and_is_recorded(home: Path) -> None:
    candidate = _fresh_candidate("cand-timeout")
    before = _roles()
    with _settings(APPROVAL_TIMEOUT_SECONDS="2"):
        state = promote_model(candidate=candidate, return_state=True)
    assert state.is_failed()  # Prefect fails a run whose pause timed out
    assert _roles() == before
    promotion = _promotion_rows()[-1]
    assert (promotion.candidate, promotion.state) == (candidate, "timeout")
    proposal, change = audit.history(get_services().store, flow_run_id=promotion.flow_run_id)
    assert proposal["action"] == "propose"
    assert (change["action"], change["actor"]) == ("timeout", "system")


def test_a_second_promotion_is_refused_while_one_waits(home: Path) -> None:
    first, second = _fresh_candidate("cand-first"), _fresh_candidate("cand-second")
    thread, _ = _start(first)
    run = _waiting_run(first, thread)
    refused = promote_model(candidate=second, return_state=True)
    assert refused.is_failed()
    assert "waiting for a decision" in refused.message and first in refused.message
    resume_flow_run(run["run_id"], run_input={"decision": "reject", "approver": "bob", "comment": ""})
    thread.join()
    assert [r.candidate for r in _promotion_rows() if r.candidate in (first, second)] == [first]


def test_a_tampered_candidate_cannot_be_promoted(home: Path) -> None:
    candidate = _fresh_candidate("cand-tampered")
    before, opened = _roles(), len(_promotion_rows())
    path = get_services().registry.get(candidate).path
    original = Path(path).read_bytes()
    Path(path).write_bytes(original + b"\0")
    state = promote_model(candidate=candidate, return_state=True)
    assert state.is_failed() and "sha256" in state.message
    assert len(_promotion_rows()) == opened

    Path(path).write_bytes(original)  # intact when the report is made, changed before approval
    thread, out = _start(candidate)
    run = _waiting_run(candidate, thread)
    Path(path).write_bytes(original + b"\0")
    resume_flow_run(run["run_id"], run_input={"decision": "approve", "approver": "alice", "comment": ""})
    thread.join()
    assert out["state"].is_failed() and "sha256" in out["state"].message
    assert _roles() == before
    proposal, change = audit.history(get_services().store, flow_run_id=run["run_id"])
    assert proposal["action"] == "propose"
    assert change["action"] == "refuse" and "sha256" in change["comment"]


def test_rollback_restores_the_pair_and_history_shows_it(home: Path) -> None:
    candidate = _fresh_candidate("cand-rollback")
    before = _roles()
    thread, _ = _start(candidate)
    run = _waiting_run(candidate, thread)
    resume_flow_run(run["run_id"], run_input={"decision": "approve", "approver": "alice", "comment": ""})
    thread.join()
    assert _roles()["live"] == candidate
    runner = CliRunner()
    result = runner.invoke(app, ["rollback", "--by", "carol", "--reason", "alerts", "--json"])
    assert result.exit_code == 0, result.output
    change = json.loads(result.output)
    assert _roles() == before
    assert change["after"] == {**before, "retired": candidate}
    assert get_services().registry.get(candidate).role == "retired"
    history = json.loads(runner.invoke(app, ["models", "history", "--json"]).output)
    assert [h["action"] for h in history[-2:]] == ["promote", "rollback"]


def test_cli_approval_from_another_process(home: Path) -> None:
    candidate = _fresh_candidate("cand-cli")
    before = _roles()
    thread, _ = _start(candidate)
    run = _waiting_run(candidate, thread)
    listed = json.loads(CliRunner().invoke(app, ["approvals", "--json"]).output)
    assert [(r["run_id"], r["candidate"]) for r in listed] == [(run["run_id"], candidate)]
    env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "RENDEZVOUS_HOME": str(home),
        "RENDEZVOUS_MODELS_DIR": get_services().settings.models_dir,
    }
    done = subprocess.run(
        [sys.executable, "-m", "rendezvous", "approve", run["run_id"], "--by", "dana", "--comment", "cli"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "promote by dana" in done.stdout
    thread.join()
    assert _roles() == {"live": candidate, "canary": before["live"]}


def _rotating(candidate: str, seen: list[str]) -> Callable[..., Any]:
    original = pipeline.prepare

    def prepare(services: Any, job: Any, chunk: int, *args: Any) -> Any:
        if chunk == 1 and not seen:
            promotion = review.start(services, candidate, None)
            review.decide(services, promotion, "approve", "tester", "rotated mid-batch")
            seen.append(job.batch_id)
        return original(services, job, chunk, *args)

    return prepare


def test_a_rotation_during_a_batch_leaves_it_scored_by_one_pair(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    candidate = _fresh_candidate("cand-midbatch")
    old = _roles()
    customers = pd.read_parquet(get_services().settings.reference_url)
    write_traffic(home / "inbox", home / "labels", customers, 21, 2, rows=120)
    seen: list[str] = []
    monkeypatch.setattr(pipeline, "prepare", _rotating(candidate, seen))
    with _settings(CHUNK_ROWS="40"):
        outcomes = score_batches()
    assert len(seen) == 1 and _roles() == {"live": candidate, "canary": old["live"]}
    store = get_services().store
    logged = score_rows(store, "role != 'shadow'").rename(columns={"model_version": "version"})
    ours = logged["batch_id"].isin([o["batch_id"] for o in outcomes])
    logged = logged.loc[ours, ["batch_id", "role", "version"]]
    with store.begin() as conn:
        pinned = dict(
            conn.execute(
                select(batches.c.id, batches.c.live_version).where(
                    batches.c.id.in_([o["batch_id"] for o in outcomes])
                )
            ).all()
        )
    during = logged[logged["batch_id"] == seen[0]]
    after = logged[logged["batch_id"] != seen[0]]
    assert len(during) == 240 and len(after) == 240  # 3 chunks x 40 rows x (live, canary)
    assert during.groupby("role")["version"].unique().map(list).to_dict() == {
        "live": [old["live"]],
        "canary": [old["canary"]],
    }
    assert after.groupby("role")["version"].unique().map(list).to_dict() == {
        "live": [candidate],
        "canary": [old["live"]],
    }
    assert pinned[seen[0]] == old["live"]


# ---- signed and named approvals: the attacks on the approval form --------------------------


@pytest.fixture
def approvers(tmp_path: Path) -> dict[str, Path]:
    """alice, bob and carol in an approvers file; their private key files."""
    keys, lines = {}, []
    for name in ("alice", "bob", "carol"):
        keys[name], line = generate(tmp_path / "keys", name)
        lines.append(line)
    (tmp_path / "approvers.toml").write_text("\n\n".join(lines) + "\n")
    return keys


def _signed(approvers: dict[str, Path], **env: str) -> Any:
    return _settings(
        APPROVALS="signed", APPROVERS_FILE=str(approvers["alice"].parents[1] / "approvers.toml"), **env
    )


def _rows(run_id: str, action: str) -> list[dict[str, Any]]:
    """The run's audit rows of one action (a run may also record its proposal)."""
    return [c for c in audit.history(get_services().store, flow_run_id=run_id) if c["action"] == action]


def _pause_key(run_id: str) -> str | None:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(run_id)).state
    return state.state_details.pause_key if state and state.is_paused() else None


def _refused(run_id: str, out: dict[str, Any], before: dict[str, Any], why: str) -> dict[str, Any]:
    """The run ended refused, nothing rotated, and the run recorded one refusal."""
    assert out["state"].is_failed() and why in out["state"].message, out["state"].message
    assert _roles() == before
    assert gate.for_run(get_services().store, run_id).state == "refused"
    (change,) = _rows(run_id, "refuse")
    assert why in change["comment"]
    return change


def test_signed_approval_rotates_and_the_audit_keeps_the_decision(
    home: Path, approvers: dict[str, Path]
) -> None:
    candidate = _fresh_candidate("cand-signed")
    before = _roles()
    runner = CliRunner()
    with _signed(approvers):
        thread, out = _start(candidate, proposer_key=str(approvers["alice"]))
        run = _waiting_run(candidate, thread)
        printed = runner.invoke(
            app, ["approve", run["run_id"], "--key", str(approvers["bob"]), "--print-signature"]
        )
        assert printed.exit_code == 0, printed.output
        signature = printed.stdout.strip()
        form = {"decision": "approve", "approver": "bob", "signature": signature, "comment": "signed"}
        resume_flow_run(run["run_id"], run_input=form)  # what the UI form sends
        thread.join()
        assert out["state"].is_completed(), out["state"].message
        assert _roles() == {"live": candidate, "canary": before["live"]}
        store = get_services().store
        (change,) = _rows(run["run_id"], "promote")
        promotion = gate.for_run(store, run["run_id"])
        assert f"report sha256 `{report_hash(gate.report_of(store, promotion.id))}`" in run["description"]
        signed_over = {
            "promotion": promotion.id,
            "candidate": candidate,
            "sha256": get_services().registry.get(candidate).sha256,
            "report_sha256": report_hash(gate.report_of(store, promotion.id)),
        }
        keys = read_approvers(approvers["alice"].parents[1] / "approvers.toml")
        assert change["decision"]["proposal"] == {
            **signed_over, "kind": "proposal", "by": "alice",
            "signature": change["decision"]["proposal"]["signature"], "key": keys["alice"].fingerprint,
        }
        assert change["decision"]["decisions"] == [
            {**signed_over, "kind": "approve", "by": "bob", "signature": signature,
             "key": keys["bob"].fingerprint}
        ]
        assert (change["action"], change["actor"]) == ("promote", "bob")
        (proposed,) = _rows(run["run_id"], "propose")  # the signed proposer's row, not host:pid
        assert (proposed["actor"], proposed["decision"]) == ("alice", change["decision"]["proposal"])

        unsigned = runner.invoke(app, ["rollback", "--by", "carol", "--reason", "alerts"])
        assert unsigned.exit_code == 2 and "--key" in unsigned.stderr
        assert _roles()["live"] == candidate
        rolled = runner.invoke(
            app, ["rollback", "--key", str(approvers["carol"]), "--reason", "alerts", "--json"]
        )
        assert rolled.exit_code == 0, rolled.output
        assert _roles() == before
        last = audit.history(store)[-1]
        assert (last["action"], last["actor"]) == ("rollback", "carol")
        assert last["decision"]["undoes"] == promotion.id
        assert last["decision"]["key"] == keys["carol"].fingerprint


def test_the_proposer_approving_their_own_candidate_is_refused_and_audited(
    home: Path, approvers: dict[str, Path]
) -> None:
    candidate = _fresh_candidate("cand-self")
    before = _roles()
    with _signed(approvers):
        thread, out = _start(candidate, proposer_key=str(approvers["alice"]))
        run = _waiting_run(candidate, thread)
        result = CliRunner().invoke(
            app, ["approve", run["run_id"], "--key", str(approvers["alice"]), "--wait", "60"]
        )
        thread.join()
    assert result.exit_code == 1
    change = _refused(run["run_id"], out, before, "alice proposed")
    assert change["actor"] == "alice" and change["decision"]["signature"]


def test_a_signature_replayed_from_another_candidate_is_refused(
    home: Path, approvers: dict[str, Path]
) -> None:
    first, second = _fresh_candidate("cand-replay-a"), _fresh_candidate("cand-replay-b")
    before = _roles()
    runner = CliRunner()
    with _signed(approvers):
        thread, out = _start(first, proposer_key=str(approvers["alice"]))
        run = _waiting_run(first, thread)
        bobs = runner.invoke(
            app, ["approve", run["run_id"], "--key", str(approvers["bob"]), "--print-signature"]
        ).stdout.strip()
        rejected = runner.invoke(app, ["reject", run["run_id"], "--key", str(approvers["carol"])])
        assert rejected.exit_code == 0, rejected.output
        thread.join()
        thread, out = _start(second, proposer_key=str(approvers["alice"]))
        run = _waiting_run(second, thread)
        form = {"decision": "approve", "approver": "bob", "signature": bobs, "comment": ""}
        resume_flow_run(run["run_id"], run_input=form)
        thread.join()
    _refused(run["run_id"], out, before, "not bob's")


def test_a_signed_rejection_of_a_run_that_no_longer_waits_is_kept_signed(
    home: Path, approvers: dict[str, Path]
) -> None:
    """The run died while waiting: `rendezvous reject` closes its promotion itself, signed."""
    candidate = _fresh_candidate("cand-dead-run")
    with _signed(approvers):
        services = get_services()
        promotion = review.start(services, candidate, str(uuid4()))  # no such Prefect run
        gate.attach_report(services.store, promotion.id, {"verdict": "undecided"})
        result = CliRunner().invoke(
            app, ["reject", promotion.flow_run_id, "--key", str(approvers["carol"]), "--comment", "dead"]
        )
        assert result.exit_code == 0 and "no longer waits" in result.output, result.output
        (change,) = _rows(promotion.flow_run_id, "reject")
        assert change["actor"] == "carol" and change["decision"]["decisions"][0]["signature"]
        ours = role_changes.c.flow_run_id == promotion.flow_run_id  # the module's other keys are gone
        with services.store.begin() as conn:
            rows = conn.execute(select(role_changes).where(ours)).all()
        keys = read_approvers(approvers["carol"].parents[1] / "approvers.toml")
        assert signature_breaks(rows, keys, signed=True) == (1, [])  # its reject row, signed by carol


def test_an_approval_over_a_replaced_report_is_refused(home: Path, approvers: dict[str, Path]) -> None:
    """Whoever rewrites the stored report gets an approval over their figures, which the run refuses."""
    candidate = _fresh_candidate("cand-replaced")
    before = _roles()
    with _signed(approvers):
        thread, out = _start(candidate, proposer_key=str(approvers["alice"]))
        run = _waiting_run(candidate, thread)
        store = get_services().store
        promotion = gate.for_run(store, run["run_id"])
        forged = {**gate.report_of(store, promotion.id), "recommendation": "approve"}
        forged["verdict"] = "the candidate beats live by far"
        gate.attach_report(store, promotion.id, forged)
        CliRunner().invoke(app, ["approve", run["run_id"], "--key", str(approvers["bob"]), "--wait", "60"])
        thread.join()
    _refused(run["run_id"], out, before, "not bob's")


def test_an_invisible_approver_name_is_refused_in_named_mode(home: Path) -> None:
    candidate = _fresh_candidate("cand-zwsp")
    before = _roles()
    thread, out = _start(candidate)
    run = _waiting_run(candidate, thread)
    resume_flow_run(run["run_id"], run_input={"decision": "approve", "approver": "\u200b", "comment": ""})
    thread.join()
    change = _refused(run["run_id"], out, before, "U+200B")
    assert change["actor"] == "\\u200b"


def test_two_required_approvals_need_two_different_approvers(home: Path) -> None:
    candidate = _fresh_candidate("cand-two")
    before = _roles()
    with _settings(REQUIRED_APPROVALS="2"):
        thread, out = _start(candidate, proposer="dana")
        run = _waiting_run(candidate, thread)
        first = _pause_key(run["run_id"])
        result = CliRunner().invoke(app, ["approve", run["run_id"], "--by", "bob", "--wait", "60"])
        assert result.exit_code == 0 and "waits for another approver" in result.output, result.output
        assert _pause_key(run["run_id"]) not in (None, first)
        assert _roles() == before
        resume_flow_run(run["run_id"], run_input={"decision": "approve", "approver": "carol", "comment": ""})
        thread.join()
    assert out["state"].is_completed(), out["state"].message
    assert _roles() == {"live": candidate, "canary": before["live"]}
    (change,) = _rows(run["run_id"], "promote")
    assert [d["by"] for d in change["decision"]["decisions"]] == ["bob", "carol"]
    assert change["decision"]["proposal"]["by"] == "dana"
