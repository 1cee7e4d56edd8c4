"""Process-wide defaults for the orchestrator, applied before Prefect is imported.

No network here and no telemetry wanted: analytics off. Prefect's own state goes under
RENDEZVOUS_HOME unless the operator points PREFECT_HOME or PREFECT_API_URL elsewhere. Without
PREFECT_API_URL, commands that run flows share the local server (``rendezvous.local_server``),
or each starts Prefect's temporary in-process API when ``RENDEZVOUS_PREFECT_API=ephemeral``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tomllib
from collections.abc import Callable
from pathlib import Path

from rendezvous import local_server
from rendezvous.local_server import LocalServer
from rendezvous.server_auth import client_auth
from rendezvous.settings import get_settings


def configure_prefect_env(quiet: bool = True) -> None:
    os.environ.setdefault("PREFECT_HOME", str(prefect_home()))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # a busy 2-core machine can take longer than Prefect's 20 s to bring the ephemeral API up
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_UI_ENABLED", "true")
    # a server on SQLite waits this long for a write lock (Prefect's default, 10 s, lets a busy
    # machine turn a worker's heartbeat and a run's state change into a 500 and a crashed run)
    os.environ.setdefault("PREFECT_SERVER_DATABASE_TIMEOUT", "60")
    use_home_credential()
    if quiet:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    # the ephemeral server logs CancelledError tracebacks at exit; they are noise to users
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    logging.getLogger("prefect.server").setLevel(logging.CRITICAL)
    # ... and its database pool, when the shutdown cancels a connection reset (Prefect #16504).
    # Only that async pool (the store's own is synchronous) and only a cancellation.
    logging.getLogger("sqlalchemy.pool.impl.AsyncAdaptedQueuePool").addFilter(_not_a_cancellation)


def use_home_credential() -> None:
    """Send this home's server credential (rendezvous.server_auth) to that server, and only there."""
    api_url = os.environ.get("PREFECT_API_URL")
    if api_url and not os.environ.get("PREFECT_API_AUTH_STRING"):
        credential = client_auth(prefect_home(), api_url)
        if credential:
            os.environ["PREFECT_API_AUTH_STRING"] = credential


def _not_a_cancellation(record: logging.LogRecord) -> bool:
    return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


def prefect_home() -> Path:
    """Where Prefect keeps its state, and the local server its record: PREFECT_HOME if set."""
    return Path(os.environ.get("PREFECT_HOME") or get_settings().home / "prefect")


def api_url_configured() -> bool:
    """True if the operator chose an API: PREFECT_API_URL, or the active Prefect profile sets it."""
    if os.environ.get("PREFECT_API_URL"):
        return True
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or prefect_home() / "profiles.toml")
    try:
        profiles = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return False
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active", "")
    return bool(profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL"))


def connect_prefect(
    quiet: bool = True, meanwhile: Callable[[], None] | None = None
) -> tuple[LocalServer, bool] | None:
    """Point this process's Prefect client at its API; call before Prefect is imported.

    The API the operator configured is used as is (None). Otherwise the local server is started
    if it is not running, or reused (the server and True if this call started it), unless the
    settings ask for Prefect's temporary in-process API (None). ``meanwhile`` (the command's
    Prefect imports) runs once the address is set: while a new server comes up, else at once.
    """
    configure_prefect_env(quiet=quiet)
    settings = get_settings()
    if settings.prefect_api == "ephemeral" or api_url_configured():
        if meanwhile:
            meanwhile()
        return None

    def connected(server: LocalServer) -> None:  # before Prefect is imported, which reads the URL
        os.environ["PREFECT_API_URL"] = server.api_url
        use_home_credential()
        if meanwhile:
            meanwhile()

    server, started = local_server.ensure(prefect_home(), settings.prefect_port, meanwhile=connected)
    if not started:  # a server already up: ``ensure`` ran nothing meanwhile
        connected(server)
    return server, started
