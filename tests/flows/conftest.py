"""The scoring flow suite runs on both stores: SQLite under the test's home, and PostgreSQL in a
schema of its own per test (per module for the module-scoped demos), chosen by configuration only
(RENDEZVOUS_DATABASE_URL), as an operator would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import fsspec
import pandas as pd
import pytest
from pg_schemas import postgres_schema

# Modules of the scoring suite; each of their tests runs once per store.
SCORING_MODULES = {
    "test_score_batches",
    "test_bad_input",
    "test_crash_recovery",
    "test_own_model",
    "test_verify",
    "test_scale_out",
    "test_run_ui",
    "test_batch_integrity",
}
# Runs that are make campaign's, not make test's (which keeps the test's other store):
EXTENDED_RUNS = {
    # a Dask runner makes the threads runner's store calls, and those run on PostgreSQL in make test
    "test_bins_on_a_dask_local_cluster": "postgres",
    # the crash campaign (make test) kills SQLite runs at every crash point
    "test_kill_mid_batch_then_rerun_leaves_one_score_per_request_per_role": "sqlite",
}


def _backends(test: str) -> list:
    extended = EXTENDED_RUNS.get(test)
    return [
        pytest.param(
            backend,
            marks=(
                *([pytest.mark.postgres] if backend == "postgres" else []),
                *([pytest.mark.extended] if backend == extended else []),
            ),
        )
        for backend in ("sqlite", "postgres")
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module in SCORING_MODULES and "store_backend" in metafunc.fixturenames:
        backends = _backends(metafunc.function.__name__)
        metafunc.parametrize("store_backend", backends, indirect=True, scope="module")


@pytest.fixture(scope="module")
def store_backend(request: pytest.FixtureRequest) -> str:
    """'sqlite' or 'postgres' (other modules: always SQLite)."""
    return getattr(request, "param", "sqlite")


@contextmanager
def store_on(backend: str) -> Iterator[None]:
    """Point RENDEZVOUS_DATABASE_URL at a fresh PostgreSQL schema for the block (SQLite: no-op)."""
    from rendezvous.services import forget_services
    from rendezvous.settings import get_settings

    if backend != "postgres":
        yield
        return
    with postgres_schema("rdv_flow") as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("RENDEZVOUS_DATABASE_URL", url)
        get_settings.cache_clear()
        forget_services()
        try:
            yield
        finally:
            forget_services()
            get_settings.cache_clear()


@pytest.fixture
def home(home: Path, store_backend: str) -> Iterator[Path]:
    """The shared ``home`` fixture, with the store on the module's backend."""
    with store_on(store_backend):
        yield home


@pytest.fixture(scope="module")
def module_store(store_backend: str) -> Iterator[str]:
    """For module-scoped demos: the store on the module's backend for the whole module."""
    with store_on(store_backend):
        yield store_backend


SeedDemo = Callable[..., list[str]]


@pytest.fixture(scope="session")
def trained_demo(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The demo's live and canary models, trained once per session (most of a demo's cost)."""
    from rendezvous.demo.bootstrap import build_demo
    from rendezvous.services import forget_services, get_services
    from rendezvous.settings import get_settings

    root = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RENDEZVOUS_HOME", str(root / "home"))
        patch.setenv("RENDEZVOUS_MODELS_DIR", str(root / "models"))
        patch.delenv("RENDEZVOUS_DATABASE_URL", raising=False)
        get_settings.cache_clear()
        forget_services()
        built = build_demo(get_services(), rows_per_batch=20)
    get_settings.cache_clear()
    forget_services()
    return built


@pytest.fixture
def seed_demo(trained_demo: object) -> SeedDemo:
    """Lay the demo out in the current settings' locations with the models trained once: the
    reference table, the same live and canary files (registered anew, sha256-checked; ``roles``
    registers one under another role, {"live": "candidate"}) and, unless ``rows`` is None, the
    demo inbox; returns the inbox file names."""
    from rendezvous.demo.batches import write_demo_inbox
    from rendezvous.demo.bootstrap import local_folder
    from rendezvous.services import get_services

    def seed(rows: int | None = 200, roles: dict[str, str] | None = None) -> list[str]:
        services = get_services()
        settings = services.settings
        with fsspec.open(trained_demo.reference_url, "rb") as handle:
            customers = pd.read_parquet(handle)
        with fsspec.open(settings.reference_url, "wb", auto_mkdir=True) as handle:
            customers.to_parquet(handle, index=False)
        for record in trained_demo.models:
            services.registry.register(
                record.path,
                (roles or {}).get(record.role, record.role),
                version=record.version,
                metadata=record.metadata,
                profile=record.profile,
                trust_types=record.trusted_types,
            )
        if rows is None:
            return []
        with local_folder(settings.inbox_url) as inbox:
            return [p.name for p in write_demo_inbox(inbox, customers, seed=7, rows=rows)]

    return seed
