"""Bring a database made by an older version up to this schema.

``create_all`` creates missing tables but never adds an index to a table that exists, so a home
created before an index was declared would silently lack it. Indexes are added here; a unique
index that the stored rows already break is reported with the rows, never half-applied.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Index, and_, func, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from rendezvous.store.schema import metadata, role_changes

_GROUPS_SHOWN = 5


class SchemaUpgradeError(RuntimeError):
    """The stored rows break a rule this version's schema enforces; the message names them."""


def create_schema(engine: Engine) -> None:
    """Create missing tables, then add the indexes that older databases lack."""
    metadata.create_all(engine)
    _add_decision_column(engine)
    with engine.connect() as conn:
        found = inspect(conn).get_multi_indexes()
    present = {index["name"] for indexes in found.values() for index in indexes}
    for table in metadata.sorted_tables:
        for index in table.indexes:
            if index.name in present:
                continue
            try:
                with engine.begin() as conn:
                    index.create(conn, checkfirst=True)
            except IntegrityError as exc:
                raise SchemaUpgradeError(_refusal(engine, index)) from exc


def _add_decision_column(engine: Engine) -> None:
    """A home that predates signed decisions gets the audit's (nullable) decision column."""
    column = role_changes.c.decision
    with engine.connect() as conn:
        present = {c["name"] for c in inspect(conn).get_columns(role_changes.name)}
    if column.name in present:
        return
    try:
        with engine.begin() as conn:
            kind = column.type.compile(dialect=engine.dialect)
            conn.execute(text(f"ALTER TABLE {role_changes.name} ADD COLUMN {column.name} {kind}"))
    except DBAPIError:  # another process upgraded this home meanwhile
        with engine.connect() as conn:
            if column.name not in {c["name"] for c in inspect(conn).get_columns(role_changes.name)}:
                raise


def _refusal(engine: Engine, index: Index) -> str:
    """Which stored rows share a value the unique ``index`` admits once, and what to do."""
    table, keys = index.table, list(index.columns)
    named_by = list(table.primary_key.columns) or keys
    repeated = select(*keys).group_by(*keys).having(func.count() > 1).limit(_GROUPS_SHOWN)
    where = index.dialect_kwargs.get(f"{engine.dialect.name}_where")
    if where is not None:
        repeated = repeated.where(where)
    clashes = []
    with engine.connect() as conn:
        for values in conn.execute(repeated).all():
            same = and_(*(key == value for key, value in zip(keys, values, strict=True)))
            rows = conn.execute(select(*named_by).where(same)).all()
            holders = ", ".join(_pairs(named_by, row) for row in rows)
            clashes.append(f"{_pairs(keys, values)} is held by {holders}")
    hint = index.info.get("on_duplicates", "Keep one row per value, then start again.")
    return (
        f"this database predates the unique index {index.name} on {table.name}, and its rows break it: "
        f"{'; '.join(clashes)}. {hint}"
    )


def _pairs(columns: list[Any], values: Any) -> str:
    return ", ".join(f"{column.name}={value!r}" for column, value in zip(columns, values, strict=True))
