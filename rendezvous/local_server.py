"""The local Prefect server (API + UI) that commands share: started once, in the background, reused.

One server per Prefect home (``$RENDEZVOUS_HOME/prefect`` by default), on loopback, telemetry
off. Its pid and port are recorded in ``rendezvous-server.json`` there, so the next command finds
it, a record whose process is gone is ignored, and ``stop`` knows what to stop. It runs as
``prefect server start`` in a session of its own, so nothing here imports Prefect: whether it is
up is asked of ``/api/health``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from rendezvous.server_auth import security_env

HOST = "127.0.0.1"
STATE_FILE = "rendezvous-server.json"
LOG_FILE = "server.log"
LOCK_FILE = "server.lock"
STARTUP_SECONDS = 120.0  # a busy 2-core machine has taken over 60 s to bring a new server up
STOP_SECONDS = 30.0


class LocalServerError(RuntimeError):
    """The local server cannot be started, reached or stopped; the message says why."""


@dataclass(frozen=True)
class LocalServer:
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"


def prefect_executable() -> str:
    """The `prefect` of this interpreter's environment (the venv's), else the one on PATH."""
    return shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"


def server_env(state_dir: Path, port: int, host: str = HOST, auth: bool = True) -> dict[str, str]:
    """Settings a server on ``port`` needs: no telemetry, a UI that calls this API, and what keeps
    it closed (its credential, CORS to its own origin, CSRF: rendezvous.server_auth)."""
    return {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        # the UI finds its API from this setting, not from --port (else it calls port 4200)
        "PREFECT_UI_API_URL": f"http://{HOST}:{port}/api",
        **security_env(state_dir, host, port, auth),
    }


def server_command(port: int, host: str = HOST) -> list[str]:
    return [prefect_executable(), "server", "start", "--host", host, "--port", str(port), "--analytics-off"]


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as `prefect server start` binds
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def any_free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def answers(api_url: str, timeout: float = 2.0) -> bool:
    """True when the API's health endpoint says OK."""
    import urllib.request  # only commands that run flows ask: not the quick reads' imports

    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def recorded(state_dir: Path) -> LocalServer | None:
    """The server recorded in ``state_dir`` if its process still runs; a stale record is removed."""
    path = state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text())
        server = LocalServer(pid=int(data["pid"]), port=int(data["port"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None
    if _is_server_process(server.pid):
        return server
    path.unlink(missing_ok=True)
    return None


def record(state_dir: Path, server: LocalServer) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / STATE_FILE
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(asdict(server)))
    scratch.replace(path)


def ensure(
    state_dir: Path,
    port: int,
    *,
    exact_port: bool = False,
    timeout: float = STARTUP_SECONDS,
    meanwhile: Callable[[LocalServer], None] | None = None,
) -> tuple[LocalServer, bool]:
    """The running server of ``state_dir`` (waiting while it starts), or a new one; True if new.

    A new server takes ``port``, or another free port if something else holds it (unless
    ``exact_port``: then that is an error). Commands started at once start one server between them.
    ``meanwhile`` runs while a new server comes up, once its address is known (a command's own
    imports: seconds the two processes spend side by side instead of one after the other).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    with _locked(state_dir):
        server = recorded(state_dir)
        if server is not None:
            if not _wait_until_up(server, timeout, state_dir):
                raise LocalServerError(
                    f"the local Prefect server (pid {server.pid}) does not answer on {server.url} "
                    f"after {timeout:g} s; its log is {state_dir / LOG_FILE}. "
                    "`rendezvous server --stop` stops it."
                )
            return server, False
        if not port_is_free(port):
            if exact_port:
                raise LocalServerError(f"port {port} on {HOST} is taken by another program")
            port = any_free_port()
        return _start(state_dir, port, timeout, meanwhile), True


def stop(state_dir: Path, timeout: float = STOP_SECONDS) -> LocalServer | None:
    """Stop the recorded server and whatever it started; None if none was running."""
    if not state_dir.is_dir():
        return None
    with _locked(state_dir):
        server = recorded(state_dir)
        if server is None:
            return None
        group = _leads_group(server.pid)
        _signal(server.pid, signal.SIGTERM, group)
        deadline = time.monotonic() + timeout
        while _still_running(server.pid, group) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _still_running(server.pid, group):
            _signal(server.pid, signal.SIGKILL, group)
        (state_dir / STATE_FILE).unlink(missing_ok=True)
        return server


def _start(
    state_dir: Path, port: int, timeout: float, meanwhile: Callable[[LocalServer], None] | None
) -> LocalServer:
    log_path = state_dir / LOG_FILE
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            server_command(port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PREFECT_HOME": str(state_dir), **server_env(state_dir, port)},
            start_new_session=True,  # outlives this command; stopped as a group
        )
    server = LocalServer(pid=process.pid, port=port)
    record(state_dir, server)
    deadline = time.monotonic() + timeout
    if meanwhile:
        meanwhile(server)
    while not answers(server.api_url):
        if process.poll() is not None:
            (state_dir / STATE_FILE).unlink(missing_ok=True)
            raise LocalServerError(
                f"the local Prefect server exited (code {process.returncode}) while starting on "
                f"port {port}; the end of {log_path}:\n{_tail(log_path)}"
            )
        if time.monotonic() >= deadline:
            _signal(server.pid, signal.SIGKILL, group=True)
            process.wait()
            (state_dir / STATE_FILE).unlink(missing_ok=True)
            raise LocalServerError(
                f"the local Prefect server did not answer on {server.url} within {timeout:g} s "
                f"(stopped again); the end of {log_path}:\n{_tail(log_path)}"
            )
        time.sleep(0.25)
    return server


def _wait_until_up(server: LocalServer, timeout: float, state_dir: Path) -> bool:
    """A recorded server may still be starting (another command started it a moment ago)."""
    deadline = time.monotonic() + timeout
    while not answers(server.api_url):
        if time.monotonic() >= deadline or recorded(state_dir) is None:
            return False
        time.sleep(0.25)
    return True


def _is_server_process(pid: int) -> bool:
    """True if ``pid`` runs and is a Prefect server (not a pid reused by another program)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or another user's: not ours either way
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.is_dir():  # no /proc here: the pid is all there is to go on
        return True
    try:
        words = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return b"server" in words and any(w.endswith(b"prefect") for w in words)  # empty for a zombie


def _leads_group(pid: int) -> bool:
    """Started here, the server leads a process group of its own; run in a terminal, it may not."""
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def _still_running(pid: int, group: bool) -> bool:
    """Any process of the server's group (its API and services), or the server itself."""
    if not group:
        return _is_server_process(pid)
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _signal(pid: int, sig: signal.Signals, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


@contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    with open(state_dir / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
