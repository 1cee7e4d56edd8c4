"""Attacks on the API, against real servers: an approval posted without the credential, a page of
another origin reading the API, a run that replaces the worker's command."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from conftest import ROOT, STARTUP_SECONDS, Operator, free_port
from prefect import get_client
from prefect.client.schemas.actions import DeploymentUpdate
from prefect.deployments import run_deployment
from prefect.exceptions import PrefectHTTPStatusError
from prefect.utilities.asyncutils import run_coro_as_sync
from prefect.workers.process import ProcessJobConfiguration

pytestmark = pytest.mark.server


def _readme_commands(block: str) -> list[list[str]]:
    """The commands of the README's ``ops-<block>`` block, as an operator types them."""
    text = re.search(rf"^```bash ops-{block}\n(.*?)^```$", (ROOT / "README.md").read_text(), re.M | re.S)
    assert text, block
    lines = [line.split(" #")[0] for line in text.group(1).splitlines() if line.startswith(".venv/bin/")]
    return [shlex.split(line.removeprefix(".venv/bin/")) for line in lines]


def test_a_run_cannot_replace_the_workers_command(operator: Operator, tmp_path: Path) -> None:
    """The pool is created as the README says; the command a run asks for is refused, and one
    written into a deployment anyway is not part of what the worker runs."""
    for command in _readme_commands("deploy"):
        operator.run(*command)
    hostile = f"sh -c 'touch {tmp_path / 'marker'}'"
    with pytest.raises(PrefectHTTPStatusError, match="'command' was unexpected"):
        run_deployment("score-batches/score-batches", job_variables={"command": hostile}, timeout=0)
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("score-batches/score-batches")
        client.update_deployment(deployment.id, DeploymentUpdate(job_variables={"command": hostile}))
        template = client.read_work_pool("rendezvous-process").base_job_template
    configuration = run_coro_as_sync(
        ProcessJobConfiguration.from_template_and_values(template, {"command": hostile})
    )
    assert configuration.command is None  # the worker builds its own: `python -m prefect.engine`


def _call(url: str, method: str = "GET", headers: dict[str, str] | None = None, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        return urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as refused:
        return refused


@pytest.fixture
def rendezvous_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Operator, Path]]:
    """`rendezvous server` as the README starts it, on a free port, its state under tmp_path."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RENDEZVOUS_"))},
        "RENDEZVOUS_HOME": str(tmp_path / "home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
    }
    ops = Operator(tmp_path, api_url, env)
    server = ops.start("rendezvous", "server", "--port", str(port))
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _answers(api_url):
        assert server.poll() is None, ops.logs()
        assert time.monotonic() < deadline, ops.logs()
        time.sleep(0.5)
    yield ops, tmp_path / "home" / "prefect"
    ops.stop_all()


def _answers(api_url: str) -> bool:
    try:
        return _call(f"{api_url}/health").status == 200
    except OSError:
        return False


def test_the_server_rendezvous_starts_is_not_open(rendezvous_server: tuple[Operator, Path]) -> None:
    ops, state = rendezvous_server
    api = ops.api_url

    # the curl approval: no credential, so no CSRF token either, and the resume never runs
    approval = {"run_input": {"decision": "approve", "approver": "\u200b", "comment": ""}}
    assert _call(f"{api}/flow_runs/{uuid4()}/resume", "POST", body=approval).status in (401, 403)
    assert _call(f"{api}/csrf-token?client=curl").status == 401

    # a page of another local origin, open in the operator's browser, may not read the API
    for method in ("GET", "OPTIONS"):
        asked = {"Origin": "http://127.0.0.1:9999", "Access-Control-Request-Method": "POST"}
        answer = _call(f"{api}/flow_runs/filter" if method == "OPTIONS" else f"{api}/health", method, asked)
        assert answer.headers.get("Access-Control-Allow-Origin") is None, (method, dict(answer.headers))
    own = api.removesuffix("/api")
    preflight = _call(
        f"{api}/flow_runs/filter", "OPTIONS", {"Origin": own, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.headers.get("Access-Control-Allow-Origin") == own

    # the credential, readable by its owner only, opens the API
    stored = state / "api-auth.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    credential = json.loads(stored.read_text())["auth_string"]
    basic = {"Authorization": "Basic " + base64.b64encode(credential.encode()).decode()}
    token = json.load(_call(f"{api}/csrf-token?client=ops", headers=basic))["token"]
    allowed = {**basic, "Prefect-Csrf-Token": token, "Prefect-Csrf-Client": "ops"}
    assert _call(f"{api}/flow_runs/filter", "POST", allowed, {}).status == 200

    # this home's commands find the credential themselves
    ops.env["PREFECT_API_URL"] = api
    assert json.loads(ops.run("rendezvous", "approvals", "--json")) == []
