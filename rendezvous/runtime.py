"""Process-wide defaults for the orchestrator, applied before Prefect is imported.

No network here and no telemetry wanted: analytics off. Prefect's own state goes under
RENDEZVOUS_HOME unless the operator points PREFECT_HOME or PREFECT_API_URL elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import os

from rendezvous.settings import get_settings


def configure_prefect_env(quiet: bool = True) -> None:
    settings = get_settings()
    os.environ.setdefault("PREFECT_HOME", str(settings.home / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # a busy 2-core machine can take longer than Prefect's 20 s to bring the ephemeral API up
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_UI_ENABLED", "true")
    # a server on SQLite waits this long for a write lock (Prefect's default, 10 s, lets a busy
    # machine turn a worker's heartbeat and a run's state change into a 500 and a crashed run)
    os.environ.setdefault("PREFECT_SERVER_DATABASE_TIMEOUT", "60")
    if quiet:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    # the ephemeral server logs CancelledError tracebacks at exit; they are noise to users
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    logging.getLogger("prefect.server").setLevel(logging.CRITICAL)
    # ... and its database pool, when the shutdown cancels a connection reset (Prefect #16504).
    # Only that async pool (the store's own is synchronous) and only a cancellation.
    logging.getLogger("sqlalchemy.pool.impl.AsyncAdaptedQueuePool").addFilter(_not_a_cancellation)


def _not_a_cancellation(record: logging.LogRecord) -> bool:
    return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))
