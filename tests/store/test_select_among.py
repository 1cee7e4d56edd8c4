"""Joins on a set of ids (the scored-before check, labels add) and bulk writes, on both stores,
with ids no demo sends: the ids travel as CSV to PostgreSQL's COPY and must arrive as they were."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import Column, MetaData, String, Table, select, text

from rendezvous.store import Store

# an id-keyed table like the quarantine's index, of this test's own
ids_table = Table(
    "probe_ids",
    MetaData(),
    Column("request_id", String(512), primary_key=True),
    Column("batch_id", String(200), nullable=False),
)

HOSTILE = ["a,b", 'say "hi"', "line\nbreak", "back\\slash", "", " padded ", "émoji 🍷", "NULL", "\\N"]
HOSTILE += ["'; DROP", "\\u0000 spelled", '["json"]', "\u2028"]
# without a control character, the SQLite writes quote the texts as JSON in Arrow, not in Python
PRINTABLE = [text for text in HOSTILE if not any(ord(char) < 32 for char in text)]
PRINTABLE += ['"],["', '\\"', "tail\\", "\x7f"]


def _with_table(store: Store) -> Store:
    ids_table.create(store.engine, checkfirst=True)
    return store


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Store:
    return _with_table(Store(database_url))


@pytest.mark.parametrize("texts", [HOSTILE, PRINTABLE], ids=["with-controls", "printable"])
@pytest.mark.parametrize("given", [list, pa.array], ids=["list", "arrow"])
def test_hostile_ids_are_written_and_found_exactly(store: Store, texts: list[str], given) -> None:
    with store.begin() as conn:
        store.bulk_insert(conn, ids_table, pd.DataFrame({"request_id": texts[::2]}), {"batch_id": "b,1"})
    sql = "SELECT s.request_id, s.batch_id FROM {candidates} JOIN probe_ids s USING (request_id)"
    with store.begin() as conn:
        found = dict(store.select_among(conn, sql, given([*texts, "never"]), ids_table))
        # the candidates of one call only
        again = dict(store.select_among(conn, sql, given(texts[1::2]), ids_table))
    assert found == dict.fromkeys(texts[::2], "b,1")
    assert again == {}


def test_postgresql_probes_the_index_only_when_the_table_is_large_beside_the_ids(store: Store) -> None:
    """Found alike either way, hostile ids too; 1M labels among 1M took 4.4 s probed and 1.3 to
    1.8 s hash-joined."""
    if not store.is_postgres:
        pytest.skip("SQLite always probes the index")
    stored = [f"id-{n}" for n in range(4000)] + HOSTILE
    with store.begin() as conn:
        conn.execute(ids_table.delete())
        store.bulk_insert(conn, ids_table, pd.DataFrame({"request_id": stored}), {"batch_id": "b"})
    with store.begin() as conn:
        unanalyzed = [store.probes_pay(conn, ids_table, n) for n in (10, 10_000)]
        conn.execute(text("ANALYZE probe_ids"))
    sql = "SELECT s.request_id FROM {candidates} JOIN probe_ids s USING (request_id)"
    with store.begin() as conn:
        assert unanalyzed == [True, False]  # a row per 64 bytes: 4000 rows are more than 64
        rows = len(stored)
        assert [store.probes_pay(conn, ids_table, n) for n in (rows // 4 - 1, rows // 4 + 1)] == [True, False]
        for wanted in (stored[::1000] + HOSTILE, stored[::3] + HOSTILE):
            found = store.select_among(conn, sql, [*wanted, "never"], ids_table)
            assert sorted(request_id for (request_id,) in found) == sorted(wanted)


def test_an_id_with_nul_is_kept_whole_where_the_store_can(tmp_path: Path) -> None:
    """SQLite keeps a NUL inside text (PostgreSQL refuses it, and the pipeline sets such ids
    aside): the ids must not be cut at it on their way in, whichever path the write takes."""
    store = _with_table(Store(f"sqlite:///{tmp_path / 'nul.db'}"))
    ids = ["a\x00b", "plain"]
    with store.begin() as conn:
        store.bulk_insert(conn, ids_table, pd.DataFrame({"request_id": ids}), {"batch_id": "b"})
    sql = "SELECT s.request_id FROM {candidates} JOIN probe_ids s USING (request_id)"
    with store.begin() as conn:
        found = sorted(row[0] for row in store.select_among(conn, sql, ["a", *ids], ids_table))
    assert found == sorted(ids)


@pytest.mark.parametrize("texts", [HOSTILE, PRINTABLE], ids=["with-controls", "printable"])
def test_hostile_text_is_read_back_exactly_as_arrow(
    store: Store, database_url: str, texts: list[str]
) -> None:
    """The columnar read (labels for DuckDB) gives back every text as written, NUL included
    where the store keeps one; several text columns are written as rows."""
    nul = texts is HOSTILE and database_url.startswith("sqlite")
    ids = texts + (["nul\x00inside"] if nul else [])
    batches = [f"batch {n} \u00e9\"" for n in range(len(ids))]
    with store.begin() as conn:
        store.bulk_insert(conn, ids_table, pd.DataFrame({"request_id": ids, "batch_id": batches}))
    schema = pa.schema([("request_id", pa.string()), ("batch_id", pa.string())])
    with store.begin() as conn:
        table = store.arrow(conn, select(ids_table.c.request_id, ids_table.c.batch_id), schema)
    assert table.schema == schema
    assert sorted(zip(*table.to_pydict().values(), strict=True)) == sorted(zip(ids, batches, strict=True))
