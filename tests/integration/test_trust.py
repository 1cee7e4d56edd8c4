"""Attacks on the API, against real servers: an approval posted without the credential, a page of
another origin open in a real (headless) browser reading the API and approving, a run that
replaces the worker's command."""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import shlex
import stat
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import headless
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


@pytest.fixture(scope="module")
def rendezvous_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Operator, Path]]:
    """`rendezvous server` as the README starts it, on a free port, its state under a temporary
    folder; one for the module's tests."""
    tmp_path = tmp_path_factory.mktemp("rendezvous-server")
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
    try:  # a server that never answered is stopped too
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _answers(api_url):
            assert server.poll() is None, ops.logs()
            assert time.monotonic() < deadline, ops.logs()
            time.sleep(0.5)
        yield ops, tmp_path / "home" / "prefect"
    finally:
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


# ---- a page of another origin, in a real browser ---------------------------------------------

PAGE = Path(__file__).parent / "pages" / "approve_from_a_page.html"
RECORDED = "window.attempt.then(() => document.getElementById('result').textContent)"
"""What the page wrote into its DOM once its attempts ended."""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[headless.Browser]:
    """Headless Chromium with a fresh profile; the tests skip where none is installed."""
    binary = headless.chromium()
    if binary is None:
        pytest.skip("no chromium on this machine (Debian: apt-get install chromium); CI installs it")
    with headless.browser(binary, tmp_path_factory.mktemp("chromium")) as running:
        yield running


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged to the test's output."""


@pytest.fixture
def other_origin(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain web server on another loopback port (another origin), serving ``tmp_path``."""
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
        server.shutdown()


def _credential(state: Path) -> str:
    return json.loads((state / "api-auth.json").read_text())["auth_string"]


def _authorised(api: str, credential: str) -> dict[str, str]:
    basic = {"Authorization": "Basic " + base64.b64encode(credential.encode()).decode()}
    token = json.load(_call(f"{api}/csrf-token?client=test", headers=basic))["token"]
    return {**basic, "Prefect-Csrf-Token": token, "Prefect-Csrf-Client": "test"}


def _paused_run(api: str, credential: str) -> tuple[str, str]:
    """A `promote-model` run paused on the server, and its name, which no page is told."""
    headers = _authorised(api, credential)
    flow = json.load(_call(f"{api}/flows/", "POST", headers, {"name": "promote-model"}))
    name = f"promote-{uuid4().hex}"
    run = json.load(_call(f"{api}/flow_runs/", "POST", headers, {"flow_id": flow["id"], "name": name}))
    paused = {"state": {"type": "PAUSED", "name": "Paused"}, "force": True}
    assert _call(f"{api}/flow_runs/{run['id']}/set_state", "POST", headers, paused).status in (200, 201)
    assert _state(api, credential, run["id"]) == "PAUSED"
    return run["id"], name


def _state(api: str, credential: str, run_id: str) -> str:
    run = json.load(_call(f"{api}/flow_runs/{run_id}", headers=_authorised(api, credential)))
    return run["state"]["type"]


def _page(api: str, run_id: str, credential: str | None) -> str:
    text = PAGE.read_text().replace("__API__", api).replace("__RUN__", run_id)
    return text.replace("__CREDENTIAL__", json.dumps(credential))


def test_a_page_of_another_origin_cannot_list_or_approve_paused_runs(
    rendezvous_server: tuple[Operator, Path], browser: headless.Browser, other_origin: tuple[str, Path]
) -> None:
    ops, state = rendezvous_server
    credential = _credential(state)
    run_id, name = _paused_run(ops.api_url, credential)
    origin, folder = other_origin
    (folder / "page.html").write_text(_page(ops.api_url, run_id, None))
    seen = json.loads(browser.evaluate(browser.open(f"{origin}/page.html"), RECORDED))
    for call in ("csrf", "list", "resume"):  # CORS: the browser withholds every answer
        assert "Failed to fetch" in seen[call].get("blocked", ""), seen
    assert seen["blind_resume"] == {"status": 0, "type": "opaque", "body": ""}, seen  # sent, unreadable
    assert name not in json.dumps(seen)
    assert _state(ops.api_url, credential, run_id) == "PAUSED"  # the server refused it: no credential


def test_the_same_page_on_the_servers_own_origin_with_the_credential_lists_and_resumes(
    rendezvous_server: tuple[Operator, Path], browser: headless.Browser
) -> None:
    """The control: what the page is denied above is what the API gives its own origin's UI."""
    ops, state = rendezvous_server
    credential = _credential(state)
    run_id, name = _paused_run(ops.api_url, credential)
    tab = browser.open(f"{ops.api_url}/health")  # a document of the server's origin
    page = json.dumps(_page(ops.api_url, run_id, credential))
    browser.evaluate(tab, f"document.open(); document.write({page}); document.close()")
    seen = json.loads(browser.evaluate(tab, RECORDED))
    assert seen["csrf"]["status"] == 200, seen
    assert seen["list"]["status"] == 200 and name in seen["list"]["body"], seen
    assert seen["resume"]["status"] in (200, 201), seen  # accepted
    assert _state(ops.api_url, credential, run_id) != "PAUSED"
