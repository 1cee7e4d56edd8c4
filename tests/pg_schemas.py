"""PostgreSQL for tests: one throw-away schema per test or module, on the machine's server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

POSTGRES_ROOT = os.environ.get(
    "RENDEZVOUS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _ddl(statement: str) -> None:
    engine = create_engine(POSTGRES_ROOT)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def create_schema(prefix: str) -> str:
    """A fresh schema; the URL selects it through search_path, as RENDEZVOUS_DATABASE_URL would."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _ddl(f'CREATE SCHEMA "{schema}"')
    return f"{POSTGRES_ROOT}?options=-csearch_path%3D{schema}"


def drop_schema(url: str) -> None:
    from rendezvous.store.engine import dispose_all

    dispose_all()  # pooled connections would hold locks on the schema's tables
    _ddl(f'DROP SCHEMA IF EXISTS "{url.rsplit("%3D", 1)[-1]}" CASCADE')


@contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    url = create_schema(prefix)
    try:
        yield url
    finally:
        drop_schema(url)
