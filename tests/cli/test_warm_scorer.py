"""`rendezvous score` with the local server, as a user's shell runs it: the first command scores
in-process and leaves a warm scorer; the next hands its run to it and prints the same outcomes; a
process without the scorer's key gets nothing scored; a command whose settings differ scores
in-process and replaces it; `rendezvous server --stop` stops it with the server."""

from __future__ import annotations

import json
import os
import socket
import time
from multiprocessing.connection import AuthenticationError, Client
from pathlib import Path

import pandas as pd
import pytest
from cli_process import imported, run_cli
from meters import register_meter_model, write_readings

from rendezvous.cli.warm_scorer import MODULE, RECORD

pytestmark = pytest.mark.server
STARTUP_SECONDS = 180.0  # the scorer imports Great Expectations and scikit-learn on a busy machine


def _scorer_other_than(state: Path, pid: int | None) -> dict:
    """The record of a ready scorer whose pid is not ``pid`` (waiting while one warms up)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            record = json.loads((state / RECORD).read_text())
        except (OSError, ValueError):
            record = None
        if record and record["pid"] != pid and _runs(record["pid"]):
            return record
        time.sleep(0.5)
    log = state / "warm-scorer.log"
    pytest.fail(
        f"no warm scorer within {STARTUP_SECONDS:g} s; its log:\n{log.read_text() if log.exists() else ''}"
    )


def _runs(pid: int) -> bool:
    try:
        return MODULE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_score_hands_its_run_to_the_warm_scorer_beside_the_local_server(
    meter_home: Path, tmp_path: Path
) -> None:
    register_meter_model(tmp_path)
    inbox = meter_home / "inbox"
    state = meter_home / "prefect"
    env = {
        **os.environ,
        "RENDEZVOUS_PREFECT_API": "local-server",
        "RENDEZVOUS_PREFECT_PORT": str(_free_port()),
    }
    for name in ("PREFECT_API_URL", "PREFECT_HOME"):
        env.pop(name, None)
    scorers: list[int] = []
    try:
        first = run_cli(env, "score")
        assert "Started the local Prefect server" in first.stderr and "warm scorer" not in first.stderr
        warm = _scorer_other_than(state, None)
        scorers.append(warm["pid"])
        assert (state / RECORD).stat().st_mode & 0o077 == 0  # its key: this user's only
        assert Path(warm["address"]).parent.stat().st_mode & 0o077 == 0

        write_readings(inbox)
        second = run_cli(env, "score", probe=True)  # the table, as a person reads it
        assert f"Scored by the warm scorer (pid {warm['pid']})" in second.stderr
        assert imported(second.stderr) == []  # the hand-off: no Prefect, no models, no pandas
        assert "readings.csv" in second.stdout and "committed" in second.stdout
        assert "rows in 2 = scored 2 + quarantined 0: every row accounted for" in second.stdout
        assert not (inbox / "readings.csv").exists()
        shown = json.loads(run_cli(env, "batches", "show", "readings.csv", "--json").stdout)
        assert shown["state"] == "committed" and shown["rows_scored"] == 2

        pd.DataFrame({"meter": [7, 8], "kwh": [1e3, 0.0], "volts": [240.0, 0.5]}).to_csv(
            inbox / "later.csv", index=False
        )
        with pytest.raises(AuthenticationError):  # a process without the key
            Client(warm["address"], family="AF_UNIX", authkey=b"a guess")
        assert (inbox / "later.csv").exists() and _runs(warm["pid"])

        other = run_cli({**env, "RENDEZVOUS_MAX_ATTEMPTS": "5"}, "score", "--json")
        assert "warm scorer" not in other.stderr  # not the settings it was started with: in-process
        (outcome,) = json.loads(other.stdout)
        assert outcome["source"] == "later.csv" and outcome["state"] == "committed"
        assert not _runs(warm["pid"])  # the stale scorer is stopped, and a fitting one replaces it
        scorers.append(_scorer_other_than(state, warm["pid"])["pid"])
    finally:
        run_cli(env, "server", "--stop")
    assert scorers and not any(_runs(pid) for pid in scorers)
    assert not (state / RECORD).exists()
    assert not Path(warm["address"]).parent.exists()
