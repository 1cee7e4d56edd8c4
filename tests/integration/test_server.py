"""The deployments for real: a `prefect server`, `prefect deploy --all` from prefect.yaml, a process
worker started outside the clone, runs triggered and inspected through the API; a promotion paused
on its form and resumed through the API as the UI does; and `rendezvous serve` instead of a pool."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.deployments import run_deployment
from prefect.exceptions import PrefectHTTPStatusError
from prefect.flow_runs import resume_flow_run
from prefect.input.actions import read_flow_run_input

from rendezvous.monitoring.verdict import TABLE_KEY, VERDICT_KEY

pytestmark = pytest.mark.server
NAMES = {"score-batches", "train-candidate", "promote-model", "drift-report"}
TRAFFIC = "loans-2026-11-07.csv"  # what `rendezvous demo-traffic` drops first


def _state_of(run_id: UUID, wanted: str, timeout: float, ops: Any) -> Any:
    """Poll the run until its state is ``wanted`` (bounded; the failure shows the processes' logs)."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(run_id)
            if run.state and run.state.type.value == wanted:
                return run
            assert not (run.state and run.state.is_final()), f"{run.state}\n{ops.logs()}"
            late = f"run {run_id} still {run.state} after {timeout} s"
            assert time.monotonic() < deadline, f"{late}\n{ops.logs()}"
            time.sleep(0.5)


def _artifact_keys(run_id: UUID) -> dict[str, str]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    return {a.key: a.type for a in found if a.key}


def _deploy(ops: Any) -> dict[str, Any]:
    ops.run(
        "prefect", "work-pool", "create", "rendezvous-process", "--type", "process",
        "--base-job-template", "work-pool.json",
    )
    ops.run("prefect", "--no-prompt", "deploy", "--all")
    with get_client(sync_client=True) as client:
        return {d.name: d for d in client.read_deployments()}


@pytest.mark.slow
def test_deployed_scoring_and_promotion_on_a_process_worker(operator: Any, tmp_path: Path) -> None:
    ops = operator
    ops.run("rendezvous", "demo", "--rows", "150")  # models, reference data, labels; scores its inbox
    deployments = _deploy(ops)

    assert set(deployments) == NAMES
    for d in deployments.values():
        assert d.work_pool_name == "rendezvous-process" and d.enforce_parameter_schema
        assert d.pull_steps == [{"flows.pull.enter_project": {}}]
    (interval,) = deployments["score-batches"].schedules
    assert interval.schedule.interval == timedelta(seconds=60) and interval.active
    assert deployments["score-batches"].global_concurrency_limit.limit == 1
    assert deployments["promote-model"].schedules == []
    with pytest.raises(PrefectHTTPStatusError, match=r"Validation failed for field .limit."):  # enforced
        run_deployment("score-batches/score-batches", parameters={"limit": "all"}, timeout=0)

    # a worker with a clone, started elsewhere: the pull step finds the clone it was installed from
    ops.start("prefect", "worker", "start", "--pool", "rendezvous-process", cwd=tmp_path,
              PREFECT_WORKER_QUERY_SECONDS="1")
    ops.run("rendezvous", "demo-traffic", "--rows", "300")
    scoring = run_deployment("score-batches/score-batches", timeout=600, poll_interval=1)

    assert scoring.state.is_completed(), f"{scoring.state}\n{ops.logs()}"
    assert scoring.name == TRAFFIC  # runs are listed by their batches
    assert {"live:demo-live-v1", "canary:demo-canary-v1"} <= set(scoring.tags)
    assert {TABLE_KEY: "table", VERDICT_KEY: "markdown"}.items() <= _artifact_keys(scoring.id).items()
    detail = json.loads(ops.run("rendezvous", "batches", "show", TRAFFIC, "--json"))
    assert detail["state"] == "committed" and detail["rows_scored"] + detail["rows_quarantined"] == 300

    # the promotion loop: labels arrive, a candidate is trained, then promoted on its form
    ops.run("rendezvous", "labels", "add")
    training = run_deployment(
        "train-candidate/train-candidate", parameters={"version": "cand-int"}, timeout=600, poll_interval=1
    )
    assert training.state.is_completed(), f"{training.state}\n{ops.logs()}"
    promotion = run_deployment(
        "promote-model/promote-model", parameters={"candidate": "cand-int"}, timeout=0
    )
    paused = _state_of(promotion.id, "PAUSED", 600, ops)
    keyset = paused.state.state_details.run_input_keyset
    assert keyset and "cand-int" in read_flow_run_input(keyset["description"], flow_run_id=promotion.id)
    assert {"promotion-report", "promotion-verdict"} <= set(_artifact_keys(promotion.id))  # beside the form
    resume_flow_run(
        promotion.id, run_input={"decision": "approve", "approver": "ops-test", "comment": "form via API"}
    )
    _state_of(promotion.id, "COMPLETED", 300, ops)

    history = json.loads(ops.run("rendezvous", "models", "history", "--json"))
    last = history[-1]
    assert (last["action"], last["actor"], last["comment"]) == ("promote", "ops-test", "form via API")
    assert last["after"]["live"] == "cand-int" and last["after"]["canary"] == "demo-live-v1"
    assert last["flow_run_id"] == str(promotion.id)


@pytest.mark.extended  # the README's operations script (make test) serves and runs them too
def test_serve_runs_the_same_deployments_without_a_pool(operator: Any, tmp_path: Path) -> None:
    ops = operator
    ops.run("rendezvous", "demo", "--rows", "60")
    ops.run("rendezvous", "demo-traffic", "--rows", "200")
    ops.start("rendezvous", "serve", cwd=tmp_path)
    deadline = time.monotonic() + 300
    with get_client(sync_client=True) as client:
        while len(deployments := client.read_deployments()) < len(NAMES):
            assert time.monotonic() < deadline, ops.logs()
            time.sleep(0.5)
    by_name = {d.name: d for d in deployments}
    assert set(by_name) == NAMES
    assert all(d.work_pool_name is None for d in by_name.values())  # served by the process itself
    assert by_name["score-batches"].schedules[0].schedule.interval == timedelta(seconds=60)
    assert by_name["drift-report"].schedules[0].schedule.cron == "0 6 * * *"

    scoring = run_deployment("score-batches/score-batches", timeout=600, poll_interval=1)

    assert scoring.state.is_completed(), f"{scoring.state}\n{ops.logs()}"
    assert scoring.name == TRAFFIC
    assert {TABLE_KEY, VERDICT_KEY} <= set(_artifact_keys(scoring.id))
