"""Batch files on any fsspec location: find them, fingerprint them, read them in bounded chunks.

CSV and JSON Lines are read as text and typed later against the contract, so one bad value
becomes one quarantined row instead of an unreadable file.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_HASH_BLOCK = 4 * 1024 * 1024


class BadInput(Exception):
    """A batch file that cannot be read as rows; the message is the recorded reason."""


@dataclass(frozen=True)
class MalformedRow:
    """A line the reader had to skip (wrong number of fields); quarantined, never dropped."""

    line: int | None
    rule: str
    value: str


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    return fsspec.core.url_to_fs(url)


def list_batches(inbox_url: str) -> list[str]:
    """Files waiting in the inbox, oldest first (FIFO); dot-files and partial uploads are skipped."""
    fs, root = filesystem(inbox_url)
    if not fs.exists(root):
        return []
    waiting = []
    for info in fs.ls(root, detail=True):
        name = info["name"].rstrip("/").rsplit("/", 1)[-1]
        if info["type"] != "file" or name.startswith(".") or name.endswith((".tmp", ".part")):
            continue
        arrived = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
        waiting.append((_timestamp(arrived), name))
    return [name for _, name in sorted(waiting)]


def _timestamp(value: object) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else float(value or 0)  # type: ignore[arg-type]


def detect_format(name: str) -> str | None:
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return FORMATS.get(suffix)


def sha256_file(url: str) -> str:
    fs, path = filesystem(url)
    digest = hashlib.sha256()
    with fs.open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def read_chunks(
    url: str, fmt: str, chunk_rows: int, text_columns: bool = True
) -> Iterator[tuple[pd.DataFrame, list[MalformedRow]]]:
    """Yield (chunk, malformed rows) with the chunk's index holding 0-based row numbers in the file.

    Raises BadInput for a file that cannot be read at all (empty, undecodable, truncated).
    """
    fs, path = filesystem(url)
    if fs.size(path) == 0:
        raise BadInput("empty file (0 bytes)")
    if fmt in ("csv", "jsonl"):
        check_utf8(url)
    readers = {"csv": _csv_batches, "parquet": _parquet_batches, "jsonl": _jsonl_batches}
    offset = 0
    with fs.open(path, "rb") as handle:
        try:
            for table, malformed in readers[fmt](handle, chunk_rows):
                frame = table.to_pandas()
                frame.index = pd.RangeIndex(offset, offset + len(frame))
                offset += len(frame)
                yield frame, malformed
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, ValueError) as exc:
            raise BadInput(f"unreadable {fmt} after row {offset}: {_first_line(exc)}") from exc


def check_utf8(url: str) -> None:
    """Refuse text that is not UTF-8, naming the line, before any row of it is used."""
    fs, path = filesystem(url)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset, lines = 0, 1
    with fs.open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                line = lines + block.count(b"\n", 0, exc.start)
                raise BadInput(
                    f"undecodable bytes: not UTF-8 at byte {offset + exc.start} (line {line}): {exc.reason}"
                ) from exc
            offset += len(block)
            lines += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise BadInput(f"undecodable bytes: file ends inside a UTF-8 character ({exc.reason})") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


def _csv_batches(
    handle: io.IOBase, chunk_rows: int
) -> Iterator[tuple[pa.Table, list[MalformedRow]]]:
    malformed: list[MalformedRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append(
            MalformedRow(
                line=row.number,
                rule="csv_row_field_count",
                value=f"expected {row.expected_columns} fields, got {row.actual_columns}: "
                f"{row.text[:200]}",
            )
        )
        return "skip"

    header = pacsv.open_csv(
        handle,
        read_options=pacsv.ReadOptions(block_size=1 << 20, use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda _row: "skip"),
    ).schema
    handle.seek(0)
    reader = pacsv.open_csv(
        handle,
        read_options=pacsv.ReadOptions(block_size=_csv_block_size(chunk_rows), use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header.names},
            strings_can_be_null=True,
        ),
    )
    yield from _rebatch(reader, chunk_rows, malformed)


def _csv_block_size(chunk_rows: int) -> int:
    return max(1 << 16, min(chunk_rows * 128, 64 << 20))


def _rebatch(
    batches: Iterator[pa.RecordBatch] | pacsv.CSVStreamingReader,
    chunk_rows: int,
    malformed: list[MalformedRow],
) -> Iterator[tuple[pa.Table, list[MalformedRow]]]:
    """Regroup reader blocks into chunks of exactly ``chunk_rows`` (the last one shorter)."""
    pending: list[pa.RecordBatch] = []
    size, yielded = 0, False
    for batch in batches:
        pending.append(batch)
        size += batch.num_rows
        while size >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_rows), _drain(malformed)
            yielded = True
            rest = table.slice(chunk_rows)
            pending, size = rest.to_batches(), rest.num_rows
    if size or malformed or not yielded:
        yield pa.Table.from_batches(pending, schema=_schema_of(batches)), _drain(malformed)


def _schema_of(batches: object) -> pa.Schema:
    return getattr(batches, "schema", pa.schema([]))


def _drain(malformed: list[MalformedRow]) -> list[MalformedRow]:
    taken = list(malformed)
    malformed.clear()
    return taken


def _parquet_batches(
    handle: io.IOBase, chunk_rows: int
) -> Iterator[tuple[pa.Table, list[MalformedRow]]]:
    parquet = pq.ParquetFile(handle)
    batches = parquet.iter_batches(batch_size=chunk_rows)
    empty = True
    for batch in batches:
        empty = False
        yield pa.Table.from_batches([batch]), []
    if empty:
        yield parquet.schema_arrow.empty_table(), []


def _jsonl_batches(
    handle: io.IOBase, chunk_rows: int
) -> Iterator[tuple[pa.Table, list[MalformedRow]]]:
    """JSON Lines via pandas in chunks, every value kept as text (nested objects included)."""
    text = io.TextIOWrapper(handle, encoding="utf-8", errors="strict")
    reader = pd.read_json(text, lines=True, chunksize=chunk_rows, dtype=False, convert_dates=False)
    any_rows = False
    for frame in reader:
        any_rows = True
        yield pa.Table.from_pandas(_as_text(frame), preserve_index=False), []
    if not any_rows:
        yield pa.table({}), []


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Scalars become their JSON text form, so typing happens in one place (the contract)."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        as_str = column.map(_json_scalar_text, na_action="ignore")
        out[str(name)] = as_str.astype("str").where(column.notna(), None)
    return pd.DataFrame(out, index=frame.index)


def _json_scalar_text(value: object) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
