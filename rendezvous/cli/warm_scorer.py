"""The warm scorer: `rendezvous score` handed to a process that has already imported what a batch
needs.

A cold `score` pays seconds of imports (Great Expectations, scikit-learn, Prefect's engine) before
its first row, while a 1k-row batch takes about a second in a warm process. So where commands
share the local Prefect server, the first `score` (and `demo`) leaves a scorer beside it, started
after its own run so the two do not compete, and later ones send it their request and print the
outcomes it returns. They import neither Prefect nor the models.

A scorer is used only if it would do exactly what the command would: its fingerprint (the
resolved settings, both rendezvous.toml included; every RENDEZVOUS_ and PREFECT_ variable but
the server's own; the working directory; the interpreter; the newest source file of rendezvous,
flows, tasks and the preprocess step's package) must be the command's. Otherwise the command
scores in-process and replaces the scorer. It answers on a Unix socket in a private
folder (0700) and checks a key kept in its record (0600), so only this user reaches it; it runs
one request at a time. It lives as long as its server: `rendezvous server --stop` stops it, and
it exits when the server is gone. If it dies mid-run, the command scores in-process (a batch it
left half done is taken over through the ledger's lease). RENDEZVOUS_WARM_SCORER=false: none.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import AuthenticationError, Client, Listener
from pathlib import Path
from typing import Any

from rendezvous import local_server
from rendezvous.runtime import api_url_configured, configure_prefect_env, prefect_home, use_home_credential
from rendezvous.settings import get_settings

RECORD = "warm-scorer.json"
LOCK = "warm-scorer.lock"
LOG = "warm-scorer.log"
MODULE = "rendezvous.cli.warm_scorer"
CODE_PACKAGES = ("rendezvous", "flows", "tasks")
# imported before the first request: what a batch imports beyond an empty run
WARM_MODULES = ("flows.score_batches", "great_expectations", "sklearn.ensemble", "sklearn.linear_model")
STOP_SECONDS = 10.0
SOCKET_PREFIX = "rendezvous-scorer-"
SERVER_ONLY = ("PREFECT_SERVER_", "PREFECT_UI_")  # read by the server, not by a run


@dataclass(frozen=True)
class ScorerRecord:
    pid: int
    server_pid: int
    address: str
    key: str
    fingerprint: str


def wanted() -> bool:
    """True where commands share the local server and the settings do not turn the scorer off."""
    settings = get_settings()
    return settings.warm_scorer and settings.prefect_api == "local-server" and not api_url_configured()


def fingerprint(environ: dict[str, str]) -> str:
    """What decides what a run does, beyond the inbox: equal fingerprints, equal runs."""
    digest = hashlib.sha256()
    for name in sorted(environ):
        if name.startswith(("RENDEZVOUS_", "PREFECT_")) and not name.startswith(SERVER_ONLY):
            digest.update(f"{name}={environ[name]}\0".encode())
    settings = get_settings()
    step = settings.preprocess.split(":")[0].split(".")[0] if settings.preprocess else None  # module:function
    packages = (*CODE_PACKAGES, *([step] if step else []))
    for part in (settings.model_dump_json(), os.getcwd(), sys.executable, str(_newest_source(packages))):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def _newest_source(packages: tuple[str, ...]) -> int:
    """The newest time of a source file of these packages (a module alone counts as its file)."""
    newest = 0
    for package in packages:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):  # not importable here: the run will say so
            continue
        if spec and spec.origin and not spec.submodule_search_locations:
            newest = max(newest, Path(spec.origin).stat().st_mtime_ns)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            for path in Path(folder).rglob("*.py"):
                newest = max(newest, path.stat().st_mtime_ns)
    return newest


def _read(state: Path) -> ScorerRecord | None:
    try:
        return ScorerRecord(**json.loads((state / RECORD).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def recorded(state: Path) -> ScorerRecord | None:
    """The scorer recorded in ``state`` if it still runs beside the server still running there."""
    record = _read(state)
    if record is None:
        return None
    server = local_server.recorded(state)
    if _is_scorer(record.pid) and server is not None and server.pid == record.server_pid:
        return record
    return None


def score(environ: dict[str, str]) -> tuple[list[dict[str, Any]], int] | None:
    """The outcomes of the warm scorer's run over the inbox and its pid, or None: no scorer fit to
    run this one."""
    state = prefect_home()
    record = recorded(state)
    if record is None:
        return None
    if record.fingerprint != fingerprint(environ):
        stop(state)  # stale: this command scores in-process and leaves a scorer that fits
        return None
    try:
        with Client(record.address, family="AF_UNIX", authkey=bytes.fromhex(record.key)) as connection:
            connection.send_bytes(b"{}")  # a request: score the inbox
            while not connection.poll(0.5):
                if not _is_scorer(record.pid):
                    return None
            reply = json.loads(connection.recv_bytes())
    except (OSError, EOFError, ValueError, AuthenticationError):
        return None
    return reply["outcomes"], record.pid


def start(environ: dict[str, str]) -> None:
    """Start a scorer in the background with the command's own environment, unless one runs."""
    state = prefect_home()
    if recorded(state) is not None:
        return
    stale = _read(state)
    if stale is not None and not _is_scorer(stale.pid):  # killed: its record and socket folder remain
        _forget(state, stale)
    with open(state / LOG, "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", MODULE],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environ,
            cwd=os.getcwd(),
            start_new_session=True,  # outlives the command, like the server
        )


def stop(state: Path) -> int | None:
    """Stop the recorded scorer; its pid, or None if none ran."""
    record = _read(state)
    if record is None:
        return None
    if _is_scorer(record.pid):
        os.kill(record.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while _is_scorer(record.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _is_scorer(record.pid):
            os.kill(record.pid, signal.SIGKILL)
    _forget(state, record)
    return record.pid


def _is_scorer(pid: int) -> bool:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return MODULE.encode() in words


def _forget(state: Path, record: ScorerRecord) -> None:
    """Remove the record if it is still this scorer's, and its socket folder."""
    if _read(state) == record:
        (state / RECORD).unlink(missing_ok=True)
    folder = Path(record.address).parent
    if folder.name.startswith(SOCKET_PREFIX) and folder.parent == Path(tempfile.gettempdir()):
        shutil.rmtree(folder, ignore_errors=True)


def serve() -> None:
    """Be the scorer of this home: warm up, record where to reach it, answer until the server goes."""
    state = prefect_home()
    with open(state / LOCK, "a") as lock:  # held for life: one scorer per home, a second start exits
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        _serve(state)


def _serve(state: Path) -> None:
    mine = fingerprint(dict(os.environ))
    server = local_server.recorded(state)
    if server is None:
        return
    configure_prefect_env()
    os.environ["PREFECT_API_URL"] = server.api_url  # this server only: never start another
    use_home_credential()
    from rendezvous.cli.scoring import run_scoring

    for module in WARM_MODULES:
        importlib.import_module(module)
    key = secrets.token_bytes(32)
    folder = tempfile.mkdtemp(prefix=SOCKET_PREFIX)  # 0700; short enough for a socket path
    with Listener(os.path.join(folder, "socket"), family="AF_UNIX", authkey=key) as listener:
        record = ScorerRecord(os.getpid(), server.pid, listener.address, key.hex(), mine)
        scratch = state / f"{RECORD}.{os.getpid()}"
        scratch.touch(mode=0o600)
        scratch.write_text(json.dumps(asdict(record)))
        scratch.replace(state / RECORD)
        signal.signal(signal.SIGTERM, lambda *_: _exit(state, record))
        threading.Thread(target=_exit_when_server_goes, args=(state, record), daemon=True).start()
        while True:
            try:
                connection = listener.accept()
            except (OSError, EOFError, AuthenticationError):
                continue
            with connection, contextlib.suppress(OSError, EOFError, ValueError):
                connection.recv_bytes()
                outcomes = run_scoring()
                connection.send_bytes(json.dumps({"outcomes": outcomes}, default=str).encode())


def _exit_when_server_goes(state: Path, record: ScorerRecord) -> None:
    while recorded(state) == record:
        time.sleep(1.0)
    _exit(state, record)


def _exit(state: Path, record: ScorerRecord) -> None:
    _forget(state, record)
    os._exit(0)


if __name__ == "__main__":
    serve()
