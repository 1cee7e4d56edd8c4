"""Shared fixtures: an isolated RENDEZVOUS_HOME per test, the store on SQLite or PostgreSQL (the
server RENDEZVOUS_TEST_POSTGRES names, else one the run starts: tests/pg_schemas.py), and one Prefect
test harness per session (a real local API, not mocks)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_schemas import postgres_schema, stop_own_server

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# commands run by tests use a temporary API (or the URL a test sets), never the local server that
# `rendezvous score` would start and leave running; tests of that server set their own mode
os.environ["RENDEZVOUS_PREFECT_API"] = "ephemeral"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a test marked ``slow`` first: make test hands out whole files in this order
    (pytest-xdist --dist loadfile --no-loadscope-reorder), so the longest runs start at once
    and the many short files fill in behind them, instead of one long file ending the run alone."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


def pytest_sessionfinish(session: pytest.Session) -> None:
    stop_own_server()  # the last process of the run to finish stops it


@pytest.fixture(scope="session", autouse=True)
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The one place tests get the loan demo's settings (its suite, reference table, feature step,
    recipe, timestamp and label columns): as the working directory's rendezvous.toml
    (RENDEZVOUS_CONFIG), inherited by the processes tests start. A home's own rendezvous.toml and
    the environment override it; tests of the neutral defaults delete RENDEZVOUS_CONFIG."""
    from rendezvous.demo.home import demo_toml
    from rendezvous.settings import get_settings

    path = tmp_path_factory.mktemp("config") / "rendezvous.toml"
    path.write_text(demo_toml(), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RENDEZVOUS_CONFIG", str(path))
        get_settings.cache_clear()
        yield path
    get_settings.cache_clear()


@pytest.fixture
def environ_restored() -> Iterator[None]:
    """The scoring commands set Prefect's defaults in os.environ; keep them out of other tests."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store on both backends the project supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with postgres_schema("rdv_test") as url:
        yield url


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh RENDEZVOUS_HOME (and model store) with settings and services re-read."""
    from rendezvous.services import forget_services
    from rendezvous.settings import get_settings

    home = tmp_path / "home"
    monkeypatch.setenv("RENDEZVOUS_HOME", str(home))
    monkeypatch.setenv("RENDEZVOUS_MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    forget_services()
    yield home
    get_settings.cache_clear()
    forget_services()
