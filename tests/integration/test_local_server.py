"""The local Prefect server as a user meets it: no PREFECT_API_URL, the first `rendezvous score`
starts it in the background, the next reuses it, `rendezvous server --stop` stops it. It starts
over a stale record (a pid that is gone) and beside a program holding its preferred port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cli_process import run_cli

from rendezvous.local_server import STATE_FILE, answers

pytestmark = pytest.mark.server


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)  # the server leads its own process group: any process left in it counts
    except ProcessLookupError:
        return False
    return True


def test_first_score_starts_the_local_server_the_next_reuses_it_stop_ends_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    state = home / "prefect" / STATE_FILE
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"pid": gone.pid, "port": 9}))  # a server that died long ago
    with socket.socket() as squatter:  # another program holds the preferred port
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        env = {
            **os.environ,
            "RENDEZVOUS_HOME": str(home),
            "RENDEZVOUS_MODELS_DIR": str(tmp_path / "models"),
            "RENDEZVOUS_PREFECT_API": "local-server",
            "RENDEZVOUS_WARM_SCORER": "false",  # the server alone (tests/cli/test_warm_scorer.py: the scorer)
            "RENDEZVOUS_PREFECT_PORT": str(taken),
        }
        for name in ("PREFECT_API_URL", "PREFECT_HOME", "RENDEZVOUS_DATABASE_URL"):
            env.pop(name, None)
        pid = None
        try:
            first = run_cli(env, "score")
            server = json.loads(state.read_text())
            pid = server["pid"]
            assert "The inbox is empty." in first.stdout
            assert f"http://127.0.0.1:{server['port']}" in first.stderr  # says where the UI is
            assert pid != gone.pid and server["port"] != taken
            assert answers(f"http://127.0.0.1:{server['port']}/api")

            second = run_cli(env, "score")
            assert "Started" not in second.stderr
            assert json.loads(state.read_text())["pid"] == pid and _alive(pid)
        finally:
            stopped = run_cli(env, "server", "--stop")
    assert pid is not None and f"pid {pid}" in stopped.stdout
    assert not _alive(pid)
    assert not state.exists()
    assert "No local Prefect server" in run_cli(env, "server", "--stop").stdout
