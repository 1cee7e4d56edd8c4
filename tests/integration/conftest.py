"""A real Prefect server (API + UI) on a free loopback port, with its own PREFECT_HOME and telemetry
off, and helpers to run the project's commands against it as an operator would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STARTUP_SECONDS = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Operator:
    """The environment of an operator's shell: the server's URL, state under ``root``."""

    root: Path
    api_url: str
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *args: str, timeout: float = 300) -> str:
        """Run a command of the README (from the clone) and return its output; fail loudly."""
        done = subprocess.run(
            [str(BIN / args[0]), *args[1:]],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        command = " ".join(args)
        assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def start(self, *args: str, cwd: Path = ROOT, **extra_env: str) -> subprocess.Popen:
        """A long-running command (worker, serve) in its own process group, logged to a file."""
        log = open(self.root / f"{args[0]}-{len(self.processes)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [str(BIN / args[0]), *args[1:]],
            cwd=cwd,
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=10)  # workers and serve stop in about 1 s; the server may linger
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(self.root.glob("*.log")))


@pytest.fixture
def operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Operator]:
    """`prefect server start` on a free port; the test process's Prefect client points at it."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "RENDEZVOUS_HOME": str(tmp_path / "home"),
        "RENDEZVOUS_MODELS_DIR": str(tmp_path / "models"),
    }
    env.pop("RENDEZVOUS_DATABASE_URL", None)
    ops = Operator(tmp_path, api_url, env)
    server = ops.start(
        "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port),
        # runs are started by the test, not by the clock (the schedules themselves are checked)
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        PREFECT_SERVER_DATABASE_TIMEOUT="60",  # as `rendezvous server` sets it (a busy machine)
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        assert server.poll() is None, ops.logs()
        assert time.monotonic() < deadline, f"no server after {STARTUP_SECONDS} s:\n{ops.logs()}"
        time.sleep(0.5)
    for name in ("PREFECT_API_URL", "PREFECT_HOME", "RENDEZVOUS_HOME", "RENDEZVOUS_MODELS_DIR"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.delenv("RENDEZVOUS_DATABASE_URL", raising=False)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from rendezvous.services import forget_services
    from rendezvous.settings import get_settings

    get_settings.cache_clear()
    forget_services()
    with temporary_settings({PREFECT_API_URL: api_url}):
        yield ops
    ops.stop_all()
    get_settings.cache_clear()
    forget_services()
