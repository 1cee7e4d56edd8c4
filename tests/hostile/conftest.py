"""A demo home for hostile input: models and reference data built once per module, inbox empty."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_schemas import create_schema, drop_schema

from rendezvous.demo.bootstrap import build_demo
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings


@pytest.fixture(scope="module")
def hostile_root(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, prefect_api: None
) -> Iterator[Path]:
    """The module's root folder: ``home`` (RENDEZVOUS_HOME) and ``models`` under it, nothing else.

    The store is SQLite, or a fresh PostgreSQL schema when parametrised with "postgres" (some
    hostile values only break there: NUL characters, ids longer than the column). A test module
    may set ``HOSTILE_ENV`` (more RENDEZVOUS_* variables, e.g. a small chunk size).
    """
    root = tmp_path_factory.mktemp("hostile")
    backend = getattr(request, "param", "sqlite")
    url = create_schema("rdv_hostile") if backend == "postgres" else None
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RENDEZVOUS_HOME", str(root / "home"))
        patch.setenv("RENDEZVOUS_MODELS_DIR", str(root / "models"))
        if url:
            patch.setenv("RENDEZVOUS_DATABASE_URL", url)
        for name, value in getattr(request.module, "HOSTILE_ENV", {}).items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        forget_services()
        build_demo(get_services(), rows_per_batch=30)
        inbox = Path(get_settings().inbox_url)
        shutil.rmtree(inbox)
        inbox.mkdir()
        yield root
        get_services().store.dispose()
    get_settings.cache_clear()
    forget_services()
    if url:
        drop_schema(url)
