"""Bring a database made by an older version up to this schema.

``create_all`` creates missing tables but never adds a column or an index to a table that exists,
so a home created before one was declared would silently lack it. Here every declared column a
table lacks is added (columns declared after a table's first release are nullable), in the same
transaction as what fills it for the rows already there (``BACKFILLS``: the role audit's chain);
then every declared index it lacks; a unique index that the stored rows already break is reported
with the rows, never half-applied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Connection, Engine, Index, and_, func, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from rendezvous.store.schema import metadata, role_changes

_GROUPS_SHOWN = 5
LEGACY_SCORES = "scores"
"""The SQL table older versions kept every score in: ``rendezvous.scorelog.migrate`` moves it into
score files at first open (it needs the home's file locations, which the store does not know)."""
LEGACY_SCORED_IDS = "scored_ids"
"""The SQL table older versions kept the scored ids in, keyed by the id: moved into a run of the
scored-id set at first open, the same way."""


def legacy_tables(engine: Engine) -> set[str]:
    """Which tables of older versions this database still holds."""
    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
    return present & {LEGACY_SCORES, LEGACY_SCORED_IDS}


class SchemaUpgradeError(RuntimeError):
    """The stored rows break a rule this version's schema enforces; the message names them."""


def create_schema(engine: Engine) -> None:
    """Create missing tables, add the columns older databases lack, then the indexes they lack."""
    metadata.create_all(engine)
    _add_columns(engine)
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


def _add_columns(engine: Engine) -> None:
    """Add the declared columns an older database lacks and fill them, in one transaction."""
    missing = _missing_columns(engine)
    if not missing:
        return
    quote = engine.dialect.identifier_preparer
    try:
        with engine.begin() as conn:
            for column in missing:
                if not column.nullable:
                    raise SchemaUpgradeError(
                        f"{column.table.name}.{column.name} is declared NOT NULL: it cannot be added "
                        "to the rows of an older database"
                    )
                conn.execute(
                    text(
                        f"ALTER TABLE {quote.format_table(column.table)} ADD COLUMN "
                        f"{quote.format_column(column)} {column.type.compile(dialect=engine.dialect)}"
                    )
                )
            for column in missing:
                backfill = BACKFILLS.get((column.table.name, column.name))
                if backfill is not None:
                    backfill(conn)
    except DBAPIError:  # another process upgraded this home meanwhile
        if _missing_columns(engine):
            raise


def _missing_columns(engine: Engine) -> list[Column[Any]]:
    with engine.connect() as conn:
        found = inspect(conn).get_multi_columns()
    present = {(table, column["name"]) for (_, table), columns in found.items() for column in columns}
    return [
        column
        for table in metadata.sorted_tables
        for column in table.columns
        if (table.name, column.name) not in present
    ]


def _chain_rows(conn: Connection) -> None:
    """Chain the rows written before the chain existed, then record that, adopting the models
    table's live and canary (the only record of who served before) as the chain's state."""
    from rendezvous import roles
    from rendezvous.promotion import audit

    rows = conn.execute(select(role_changes).order_by(role_changes.c.id)).all()
    previous = audit.GENESIS
    for row in rows:
        digest = audit.row_hash(row, previous)
        conn.execute(
            update(role_changes)
            .where(role_changes.c.id == row.id)
            .values(prev_hash=previous, row_hash=digest)
        )
        previous = digest
    ended = {role: (rows[-1].after or {}).get(role) if rows else None for role in roles.SERVING_ROLES}
    held = roles.table_roles(conn)
    note = "" if held == ended else f"; the audit ended at {ended}, the models table said {held}: kept"
    audit.record(
        conn,
        "chain",
        "upgrade",
        f"hash-chained the {len(rows)} audit rows written before{note}",
        None,
        ended,
        held,
    )


BACKFILLS: dict[tuple[str, str], Callable[[Connection], None]] = {
    (role_changes.name, role_changes.c.row_hash.name): _chain_rows,
}
"""What fills an added column for the rows already there, run once, when it is added."""


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
