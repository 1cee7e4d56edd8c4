"""The SQLAlchemy engine, created on first use, and bulk writes that keep up with 1M-row batches."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, insert, text
from sqlalchemy.engine import make_url

from rendezvous.store.schema import for_postgresql
from rendezvous.store.upgrade import create_schema

if TYPE_CHECKING:  # reads of the store (status, models list) need no pandas nor pyarrow
    import pandas as pd
    import pyarrow as pa
    from sqlalchemy.sql import Select

_FETCH_ROWS = 100_000
_COPY_ROWS = 100_000  # rows per CSV block sent to COPY: memory bounded whatever the frame holds
_NO_TABLE_SCANS = ("enable_hashjoin", "enable_mergejoin", "enable_seqscan")

# SQLite's JSON functions (and ->>) are built in from 3.38: older ones take rows one by one
_SQLITE_JSON = sqlite3.sqlite_version_info >= (3, 38)

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        if parsed.get_backend_name() == "postgresql":
            for_postgresql()
        engine = create_engine(url, pool_pre_ping=True)
    try:
        create_schema(engine)
    except Exception:
        engine.dispose()
        raise
    return engine


class Store:
    """A handle on the database: transactions and bulk inserts. Cheap to create; engines are shared."""

    def __init__(self, url: str) -> None:
        self.url = url
        with _engines_lock:
            if url not in _engines:
                _engines[url] = _make_engine(url)
            self.engine = _engines[url]
        self.is_postgres = self.engine.dialect.name == "postgresql"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def bulk_insert(
        self, conn: Connection, table: Table, frame: pd.DataFrame, constants: dict[str, Any] | None = None
    ) -> int:
        """Insert a DataFrame (plus columns that hold one value for every row) at driver speed.

        PostgreSQL gets COPY of CSV blocks; SQLite gets one prepared executemany. Both run inside ``conn``'s
        transaction, so a bulk write commits or vanishes with the rest of the unit of work.
        """
        if frame.empty:
            return 0
        # one value each: written as SQLAlchemy would (a UTC time in SQLite's text form, say)
        constants = {name: _bound(conn, table.c[name], value) for name, value in (constants or {}).items()}
        columns = [*constants, *frame.columns]
        names = ", ".join(f'"{c}"' for c in columns)
        raw = conn.connection.driver_connection
        if self.is_postgres:
            statement = f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT csv)'
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for start in range(0, len(frame), _COPY_ROWS):
                    copy.write(_csv_rows(frame.iloc[start : start + _COPY_ROWS], constants))
        else:
            cursor = raw.cursor()
            try:
                _sqlite_insert(cursor, f'INSERT INTO "{table.name}" ({names})', frame, constants)
            finally:
                cursor.close()
        return len(frame)

    def arrow(self, conn: Connection, query: Select, schema: pa.Schema) -> pa.Table:
        """A query's rows as Arrow columns of ``schema``, taken from the driver's cursor in slices:
        no Row objects and no pandas, so a million labels load in under a second, not in ten.
        The columns are the query's, in order; values are the driver's (no SQLAlchemy types)."""
        import pyarrow as pa

        if not self.is_postgres and _SQLITE_JSON and all(pa.types.is_string(f.type) for f in schema):
            return _sqlite_text_columns(conn, query, schema)
        row_type = pa.struct(list(schema))
        cursor = conn.execute(query).cursor
        parts = []
        while rows := cursor.fetchmany(_FETCH_ROWS):
            parts.append(pa.RecordBatch.from_struct_array(pa.array(rows, row_type)))
        return pa.Table.from_batches(parts, schema)

    def select_among(
        self,
        conn: Connection,
        sql: str,
        ids: Sequence[str] | pd.Series | pa.Array | pa.ChunkedArray,
        joined: Table,
        params: dict[str, Any] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Rows of ``sql``, whose ``{candidates}`` is a FROM item ``c(request_id)`` holding ``ids``,
        to join the indexed table ``joined`` on: a cost in proportion to the ids, whatever the
        table holds.

        The ids go into a temporary table at bulk speed (IN-lists were 3x slower at 250k ids on
        SQLite; on PostgreSQL 1M ids took 21 s in slices of 20,000 parameters, 2.9 s as one array
        parameter, 1.6 s copied). On PostgreSQL the join probes the table's index unless the
        table is small beside the ids (``probes_pay``). Ids given as Arrow text stay so."""
        import pandas as pd
        import pyarrow as pa

        given = ids.to_pandas() if isinstance(ids, pa.Array | pa.ChunkedArray) else pd.Series(ids).array
        candidates = pd.DataFrame({"request_id": given}, dtype="str")
        probe = self.is_postgres and self.probes_pay(conn, joined, len(candidates))
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute("CREATE TEMP TABLE IF NOT EXISTS candidate_ids (request_id TEXT)")
            cursor.execute("DELETE FROM candidate_ids")
            if self.is_postgres:
                with cursor.copy("COPY candidate_ids FROM STDIN (FORMAT csv)") as copy:
                    for start in range(0, len(candidates), _COPY_ROWS):
                        copy.write(_csv_rows(candidates.iloc[start : start + _COPY_ROWS], {}))
                for setting in _NO_TABLE_SCANS if probe else ():
                    cursor.execute(f"SET LOCAL {setting} = off")
            else:
                _sqlite_insert(cursor, "INSERT INTO candidate_ids (request_id)", candidates, {})
            found = conn.execute(text(sql.format(candidates="candidate_ids AS c")), params or {})
            rows = [tuple(row) for row in found]
            cursor.execute("DELETE FROM candidate_ids")
            if probe:
                for setting in _NO_TABLE_SCANS:
                    cursor.execute(f"RESET {setting}")
        finally:
            cursor.close()
        return rows

    @staticmethod
    def probes_pay(conn: Connection, table: Table, candidates: int) -> bool:
        """Whether probing ``table``'s index once per candidate beats scanning it (PostgreSQL).
        A probe cost about 4.4 us; a hash join about 1.3 to 1.8 us per row of the table (1M
        labels looked for among 1M: 4.4 s probed, 1.3 to 1.8 s hash-joined), so the index is
        probed when the table holds more than 4 rows per candidate. The planner is not left to
        choose: with its disk-bound costs it hash-joined a 21M-row table with each chunk's 250k
        ids, 6.5 s a chunk. A table never analyzed is taken to hold a row per 64 bytes: probed when big."""
        query = "SELECT reltuples, pg_relation_size(oid) FROM pg_class WHERE oid = to_regclass(:name)"
        counted, size = conn.execute(text(query), {"name": table.name}).one()
        rows = counted if counted >= 0 else size / 64
        return rows > 4 * candidates

    def insert_rows(self, conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
        if rows:
            conn.execute(insert(table), rows)

    def dispose(self) -> None:
        with _engines_lock:
            _engines.pop(self.url, None)
        self.engine.dispose()


def _sqlite_text_columns(conn: Connection, query: Select, schema: pa.Schema) -> pa.Table:
    """Text columns from SQLite as one JSON array each, built by SQLite and parsed by ``json``:
    no row tuples (1M labels: 1.6 s against 2.5 s fetched in slices). SQLite escapes a NUL as
    ``\\u0000``, so a text comes back whole."""
    import json

    import pyarrow as pa
    from sqlalchemy import func, select

    rows = query.subquery()
    arrays = conn.execute(select(*(func.json_group_array(column) for column in rows.c))).one()
    return pa.table(
        [pa.array(json.loads(values), field.type) for values, field in zip(arrays, schema, strict=True)],
        schema=schema,
    )


def _bound(conn: Connection, column: Any, value: Any) -> Any:
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process is not None else value


def _csv_rows(frame: pd.DataFrame, constants: dict[str, Any]) -> bytes:
    """Rows as CSV for COPY, written by Arrow (psycopg's row by row writer took 3.5 s for 1M
    labels): every present value quoted, so an empty text stays text and only a missing one
    is NULL."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    # a constant as its text once (Arrow formats times per row: 1 s of the 1.2 s for 1M labels)
    arrays = [pa.repeat(None if value is None else str(value), len(frame)) for value in constants.values()]
    for name in frame.columns:
        series = frame[name]
        arrays.append(pa.array(series.astype("str") if series.dtype == object else series, from_pandas=True))
    sink = io.BytesIO()
    options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
    pacsv.write_csv(pa.table(arrays, names=[*constants, *frame.columns]), sink, options)
    return sink.getvalue()


def _sqlite_insert(cursor: Any, insert_into: str, frame: pd.DataFrame, constants: dict[str, Any]) -> None:
    """Text columns (scored ids, candidate ids, labels) go as one JSON array that SQLite unpacks
    itself: 1M ids 0.9 s against 1.85 s bound row by row. Any other frame goes row by row."""
    import pandas as pd
    import pyarrow as pa

    columns = [frame[name] for name in frame.columns]
    text = _SQLITE_JSON and all(not c.hasnans and pd.api.types.is_string_dtype(c) for c in columns)
    payload = _json_array([pa.array(c, pa.string(), from_pandas=True) for c in columns]) if text else None
    if payload is None:
        marks = ", ".join("?" for _ in [*constants, *frame.columns])
        cursor.executemany(f"{insert_into} VALUES ({marks})", _python_rows(frame, constants))
    else:
        given = "".join("?, " for _ in constants)
        each = "value" if len(columns) == 1 else ", ".join(f"value ->> {n}" for n in range(len(columns)))
        select = f"SELECT {given}{each} FROM json_each(?)"
        cursor.execute(f"{insert_into} {select}", [*constants.values(), payload])


def _json_array(columns: list[pa.Array]) -> str | None:
    """The texts (of several columns: rows of texts) as one JSON array, or None where a NUL would
    end a text there (SQLite keeps a NUL bound as a parameter, its JSON reader does not).

    Quoted by Arrow, not by Python: 250k ids took 0.05 s so, 0.14 s as a list through ``json``.
    Texts with control characters, which JSON must spell as escapes, take ``json``'s way."""
    import json

    import pyarrow as pa
    import pyarrow.compute as pc

    if any(pc.any(pc.match_substring_regex(column, "[\\x00-\\x1f]")).as_py() for column in columns):
        lists = [column.to_pylist() for column in columns]
        rows = lists[0] if len(lists) == 1 else list(zip(*lists, strict=True))
        payload = json.dumps(rows, ensure_ascii=False)
        return None if "\\u0000" in payload else payload
    if not len(columns[0]):
        return "[]"
    text = pa.large_string()  # one text of every value: past 2 GB, offsets need 64 bits
    quoted = [
        pc.replace_substring(pc.replace_substring(pc.cast(column, text), "\\", "\\\\"), '"', '\\"')
        for column in columns
    ]
    rows = quoted[0] if len(quoted) == 1 else pc.binary_join_element_wise(*quoted, pa.scalar('","', text))
    if isinstance(rows, pa.ChunkedArray):
        rows = rows.combine_chunks()
    opening, between, closing = ('["', '","', '"]') if len(quoted) == 1 else ('[["', '"],["', '"]]')
    whole = pa.LargeListArray.from_arrays(pa.array([0, len(rows)], pa.int64()), rows)
    return opening + pc.binary_join(whole, pa.scalar(between, text))[0].as_py() + closing


def _python_rows(frame: pd.DataFrame, constants: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    """Plain Python values with None for missing ones: what both drivers take fastest."""
    columns: list[Any] = [itertools.repeat(value, len(frame)) for value in constants.values()]
    for name in frame.columns:
        series = frame[name]
        if series.hasnans:
            columns.append(series.astype(object).where(series.notna(), None).tolist())
        else:
            columns.append(series.tolist())
    return zip(*columns, strict=True)


def dispose_all() -> None:
    """Close every pooled connection (tests dropping a schema, processes about to fork)."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.dispose()
