"""PostgreSQL for tests: the server that RENDEZVOUS_TEST_POSTGRES names (CI sets it for the machine's),
otherwise one this test run starts from the project's own dependencies (pgserver: PostgreSQL
binaries in a wheel), so a fresh clone needs no PostgreSQL installed. Tests get one throw-away
schema each (or one per module), selected through the URL's search_path.

Under pytest-xdist the workers of one run share the server they start: it lives in a data folder
named after the run, and the last worker to finish stops it and deletes the folder."""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

NAMED_SERVER = "RENDEZVOUS_TEST_POSTGRES"


@dataclass(frozen=True)
class PostgresForTests:
    """Where the tests' PostgreSQL is, and how to restart it (None, with the reason, if we cannot)."""

    url: URL
    restart: Callable[[], object] | None
    not_restartable: str = ""


@functools.cache
def postgres_for_tests() -> PostgresForTests:
    named = os.environ.get(NAMED_SERVER)
    return _named_server(named) if named else _own_server()


def _named_server(url: str) -> PostgresForTests:
    """A server someone else runs: restartable only if it is a local cluster we may control."""
    parsed = make_url(url)
    command, reason = _cluster_restart(parsed)
    if command is None:
        return PostgresForTests(parsed, None, reason)
    return PostgresForTests(parsed, functools.partial(subprocess.run, command, check=True))


def _cluster_restart(url: URL) -> tuple[list[str] | None, str]:
    """The pg_ctlcluster command that restarts the local cluster serving ``url``, or why there is none."""
    if url.host not in (None, "", "127.0.0.1", "localhost", "::1"):
        return None, f"{NAMED_SERVER} names a server on another host ({url.host})"
    if not shutil.which("pg_lsclusters"):
        return None, "no pg_lsclusters/pg_ctlcluster here to restart the server it names"
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        version, cluster, port, _status, owner, *_ = line.split()
        if int(port) != (url.port or 5432):
            continue
        if os.geteuid() != 0 and owner != pwd.getpwuid(os.geteuid()).pw_name:
            return None, f"cluster {version}/{cluster} belongs to {owner}, not to this user"
        return ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart"], ""
    return None, f"no local PostgreSQL cluster listens on port {url.port or 5432}"


_started: list[Any] = []  # the pgserver handle of this process, if it started one


def _own_server() -> PostgresForTests:
    import pgserver

    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # the same in every worker of one run
    if run:
        pgdata = Path(tempfile.gettempdir()) / f"rendezvous-pg-{run}"
        pgdata.mkdir(exist_ok=True)  # pgserver's own mkdir fails if a worker got there first
    else:
        pgdata = Path(tempfile.mkdtemp(prefix="rendezvous-pg-"))
    server = pgserver.get_server(pgdata, cleanup_mode="delete")
    _started.append(server)

    def restart() -> None:
        pgserver.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)
        server.ensure_postgres_running()  # re-read the new postmaster, so that stopping it works

    url = make_url(server.get_uri()).set(drivername="postgresql+psycopg")
    return PostgresForTests(url, restart)


def stop_own_server() -> None:
    """Let go of the server this process started (the last process out stops and deletes it)."""
    while _started:
        _started.pop().cleanup()


def _ddl(statement: str) -> None:
    engine = create_engine(postgres_for_tests().url)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def create_schema(prefix: str) -> str:
    """A fresh schema; the URL selects it through search_path, as RENDEZVOUS_DATABASE_URL would."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _ddl(f'CREATE SCHEMA "{schema}"')
    url = postgres_for_tests().url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def drop_schema(url: str) -> None:
    from rendezvous.store.engine import dispose_all

    dispose_all()  # pooled connections would hold locks on the schema's tables
    schema = make_url(url).query["options"].removeprefix("-csearch_path=")
    _ddl(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    url = create_schema(prefix)
    try:
        yield url
    finally:
        drop_schema(url)
