"""Batch files on any fsspec location: find them, fingerprint them, read them in bounded chunks.

CSV and JSON Lines are read as text and typed later against the contract, so one bad value
becomes one quarantined row instead of an unreadable file.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rendezvous.compression import Decompressing, TooLarge, split_suffix
from rendezvous.settings import Settings, get_settings

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_HASH_BLOCK = 4 * 1024 * 1024
_HEADER_BLOCK = 1 << 20
# Far above any request schema, far below what hurts: every step of a batch costs per column,
# and a 50,000-column file took over a minute before anything could say it was wrong.
MAX_COLUMNS = 10_000
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_SURROGATE = re.compile("[\udc80-\udcff]")


class BadInput(Exception):
    """A batch file that cannot be read as rows; the message is the recorded reason."""


@dataclass(frozen=True)
class Limits:
    """Byte limits on one batch file (settings ``max_*_bytes``): memory is bounded by bytes, not
    rows. A 3.9 KB Parquet file once decoded to 1.6 GiB; a 200 MB one-line JSON Lines file was
    held whole, several times over."""

    file_bytes: int
    cell_bytes: int
    row_bytes: int
    parquet_decoded_bytes: int
    chunk_bytes: int  # not a limit: a chunk ends at chunk_rows rows or this many bytes

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.max_file_bytes,
            settings.max_cell_bytes,
            settings.max_row_bytes,
            settings.max_parquet_decoded_bytes,
            settings.chunk_bytes,
        )


def _above(what: str, size: int, setting: str, limit: int, at_least: bool = False) -> BadInput:
    of = "of at least" if at_least else "of"
    return BadInput(f"{what} {of} {size:,} bytes, above {setting} ({limit:,}; RENDEZVOUS_{setting.upper()})")


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


def make_folder(url: str) -> bool:
    """Create the folder ``url`` names, with its parents; True if it was not there."""
    fs, root = filesystem(url)
    if fs.exists(root):
        return False
    fs.makedirs(root, exist_ok=True)
    return True


def list_batches(inbox_url: str) -> list[str]:
    """Files waiting in the inbox, oldest first (FIFO); dot-files and partial uploads are skipped.

    A name whose bytes are not UTF-8 is first renamed to its percent-escaped form (see
    :func:`utf8_name`): the ledger, the logs and the orchestrator all hold names as UTF-8 text.
    A missing inbox is created: a new home's first `score` leaves the folder to drop files into.
    """
    if make_folder(inbox_url):
        return []
    fs, root = filesystem(inbox_url)
    waiting = []
    for info in fs.ls(root, detail=True):
        name = info["name"].rstrip("/").rsplit("/", 1)[-1]
        if info["type"] != "file" or name.startswith(".") or name.endswith((".tmp", ".part")):
            continue
        if utf8_name(name) != name:
            name = _rename_to_utf8(fs, root, name)
        arrived = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
        waiting.append((_timestamp(arrived), name))
    return [name for _, name in sorted(waiting)]


def utf8_name(name: str) -> str:
    """The name with each byte that is not UTF-8 (an escaped surrogate) as ``%XX``."""
    return _SURROGATE.sub(lambda m: f"%{ord(m.group()) - 0xDC00:02X}", name)


def _rename_to_utf8(fs: fsspec.AbstractFileSystem, root: str, name: str) -> str:
    target = utf8_name(name)
    while fs.exists(f"{root}/{target}"):
        target = f"_{target}"
    fs.mv(f"{root}/{name}", f"{root}/{target}")
    return target


def _timestamp(value: object) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else float(value or 0)  # type: ignore[arg-type]


def detect_format(name: str) -> str | None:
    """The format a name says, through a compression suffix (``x.csv.gz`` is CSV); None when
    unknown, and for compressed Parquet (Parquet compresses its own pages)."""
    inner, codec = split_suffix(name)
    suffix = "." + inner.rsplit(".", 1)[-1].lower() if "." in inner else ""
    fmt = FORMATS.get(suffix)
    return None if codec and fmt == "parquet" else fmt


def unknown_format(name: str) -> BadInput:
    """The refusal of a file whose name says no format this system reads."""
    return BadInput(
        f"unknown format of {name!r}; expected one of .csv, .parquet, .jsonl, .ndjson "
        "(CSV and JSON Lines may be compressed: .gz, .zst, .bz2)"
    )


def open_batch(url: str, max_bytes: int | None = None, setting: str = "max_file_bytes") -> io.IOBase:
    """The file's bytes, decompressed (streamed) when its name ends in a compression suffix,
    refused past ``max_bytes`` of them."""
    fs, path = filesystem(url)
    codec = split_suffix(path)[1]
    if codec is None:
        return fs.open(path, "rb")
    return io.BufferedReader(Decompressing(fs, path, codec, max_bytes, setting), buffer_size=1 << 20)


def sha256_file(url: str) -> str:
    fs, path = filesystem(url)
    digest = hashlib.sha256()
    with fs.open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def read_chunks(
    url: str, fmt: str, chunk_rows: int, limits: Limits | None = None
) -> Iterator[tuple[pd.DataFrame, list[MalformedRow]]]:
    """Yield (chunk, malformed rows) with the chunk's index holding 0-based row numbers in the file.

    Raises BadInput for a file that cannot be read at all (empty, undecodable, truncated) or that
    breaks one of the byte ``limits`` (default: the settings'), naming the limit.
    """
    limits = limits or Limits.of(get_settings())
    fs, path = filesystem(url)
    size = fs.size(path)
    if size == 0:
        raise BadInput("empty file (0 bytes)")
    if size > limits.file_bytes:
        raise _above("a file", size, "max_file_bytes", limits.file_bytes)
    if fmt in ("csv", "jsonl"):
        try:
            check_utf8(url, limits.row_bytes, limits.file_bytes)
        except ValueError as exc:  # a compressed file that is corrupt or decompresses too far
            raise BadInput(_first_line(exc)) from exc
    readers = {"csv": _csv_batches, "parquet": _parquet_batches, "jsonl": _jsonl_batches}
    offset = decoded = 0
    with open_batch(url, limits.file_bytes) as handle:
        try:
            for table, malformed in readers[fmt](handle, chunk_rows, limits):
                decoded += check_bytes(table, limits, offset)
                if fmt == "parquet" and decoded > limits.parquet_decoded_bytes:
                    raise _above(
                        "values decoded", decoded, "max_parquet_decoded_bytes", limits.parquet_decoded_bytes
                    )
                frame = _plain(table).to_pandas()
                frame.index = pd.RangeIndex(offset, offset + len(frame))
                offset += len(frame)
                yield frame, malformed
        except TooLarge as exc:
            raise BadInput(f"after row {offset}: {exc}") from exc
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, ValueError) as exc:
            raise BadInput(f"unreadable {fmt} after row {offset}: {_first_line(exc)}") from exc


def check_utf8(url: str, max_line_bytes: int | None = None, max_bytes: int | None = None) -> None:
    """Refuse text that is not UTF-8, or with a line over ``max_line_bytes`` (a CSV reader would
    hold a 200 MB line whole), naming the line, before any row of it is used; a compressed file
    is checked as it decompresses, refused past ``max_bytes`` of it."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset, lines, line_start = 0, 1, 0
    with open_batch(url, max_bytes) as handle:
        start = handle.read(4)
        for bom, encoding in _BOMS:
            if start.startswith(bom):
                raise BadInput(
                    f"undecodable bytes: the file is {encoding} (it starts with a {encoding} byte "
                    "order mark); batches must be UTF-8"
                )
        handle.seek(0)
        while block := handle.read(_HASH_BLOCK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                line = lines + block.count(b"\n", 0, exc.start)
                raise BadInput(
                    f"undecodable bytes: not UTF-8 at byte {offset + exc.start} (line {line}): {exc.reason}"
                ) from exc
            if max_line_bytes is not None:
                line_start = _check_line_lengths(block, offset, line_start, lines, max_line_bytes)
            offset += len(block)
            lines += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise BadInput(f"undecodable bytes: file ends inside a UTF-8 character ({exc.reason})") from exc


def _check_line_lengths(block: bytes, offset: int, line_start: int, line: int, limit: int) -> int:
    """Refuse a line of more than ``limit`` bytes ending in, or running past, this block; return
    where the block's last line starts (a row is at least as long as any of its lines)."""
    ends = offset + np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A)
    bounds = np.concatenate(([line_start], ends + 1))
    lengths = np.diff(bounds) - 1
    if len(lengths) and lengths.max() > limit:
        longest = int(lengths.argmax())
        raise _above(f"line {line + longest}", int(lengths[longest]), "max_row_bytes", limit)
    if offset + len(block) - bounds[-1] > limit:
        running = offset + len(block) - int(bounds[-1])
        raise _above(f"line {line + len(ends)}", running, "max_row_bytes", limit, at_least=True)
    return int(bounds[-1])


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


def check_bytes(table: pa.Table, limits: Limits, first_row: int) -> int:
    """Refuse a chunk with a value over ``cell_bytes`` or a row over ``row_bytes``, naming the row
    and column; else return the chunk's size once decoded. Dictionary columns are measured through
    their dictionary, before they are decoded."""
    rows: pa.Array | None = None
    fixed = 0
    for name, column in zip(table.column_names, table.columns, strict=True):
        lengths = _byte_lengths(column)
        if lengths is None:
            fixed += column.nbytes
            continue
        widest = pc.max(lengths).as_py() or 0
        if widest > limits.cell_bytes:
            where = f"row {first_row + pc.index(lengths, widest).as_py()}, column {name!r}: a value"
            raise _above(where, widest, "max_cell_bytes", limits.cell_bytes)
        rows = lengths if rows is None else pc.add(rows, lengths)
    if rows is None or not len(rows):
        return fixed
    widest = pc.max(rows).as_py()
    if widest > limits.row_bytes:
        where = f"row {first_row + pc.index(rows, widest).as_py()}"
        raise _above(where, widest, "max_row_bytes", limits.row_bytes)
    return fixed + int(pc.sum(rows).as_py())


def _byte_lengths(column: pa.ChunkedArray) -> pa.Array | None:
    """Bytes of each text value (missing: 0), or None for a column that is not text."""
    kind = column.type
    text = pa.types.is_dictionary(kind) and _is_text(kind.value_type)
    if not (text or _is_text(kind)):
        return None
    if text:
        parts = [pc.take(pc.binary_length(c.dictionary), c.indices) for c in column.chunks]
    else:
        parts = [pc.binary_length(c) for c in column.chunks]
    if not parts:
        return pa.array([], pa.int64())
    return pc.fill_null(pa.concat_arrays([p.cast(pa.int64()) for p in parts]), 0)


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_bytes(kind)


def _is_bytes(kind: pa.DataType) -> bool:
    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind)


def _csv_batches(
    handle: io.IOBase, chunk_rows: int, limits: Limits
) -> Iterator[tuple[pa.Table, list[MalformedRow]]]:
    names = _csv_header(handle)
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

    reader = pacsv.open_csv(
        handle,
        read_options=pacsv.ReadOptions(block_size=_csv_block_size(chunk_rows, limits), use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            # Only an empty field is missing: "NA", "null" or "NaN" are text the sender wrote
            # (an id, or a value the contract quarantines showing what arrived), as in JSON Lines.
            null_values=[""],
            strings_can_be_null=True,
        ),
    )
    yield from _rebatch(reader, chunk_rows, limits.chunk_bytes, malformed)


def _csv_header(handle: io.IOBase) -> list[str]:
    """The column names, as Arrow reads them, from a copy of the first block.

    Refuses a header longer than a block or wider than MAX_COLUMNS before parsing it. The copy
    matters: a reader opened on the batch's own handle can still read ahead on it after it is
    dropped, moving the handle under the reader that follows (a 100k-row batch was once read
    from its 10,200th line, the header taken from the middle of a row).
    """
    first = handle.read(_HEADER_BLOCK)
    handle.seek(0)
    line = first.split(b"\n", 1)[0].split(b"\r", 1)[0]
    if len(line) == len(first) == _HEADER_BLOCK:
        raise BadInput(f"the header line is longer than {_HEADER_BLOCK:,} bytes: not a batch header")
    _check_width(len(next(csv.reader([line.decode("utf-8", "replace")]), [])))
    if len(first) == _HEADER_BLOCK:  # whole lines only: a value never spans lines here
        first = first[: max(first.rfind(b"\n"), first.rfind(b"\r")) + 1]
    return pacsv.open_csv(
        io.BytesIO(first),
        read_options=pacsv.ReadOptions(block_size=_HEADER_BLOCK, use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda _row: "skip"),
    ).schema.names


def _check_width(columns: int) -> None:
    if columns > MAX_COLUMNS:
        raise BadInput(f"{columns:,} columns, more than the {MAX_COLUMNS:,} a batch may have")


def _csv_block_size(chunk_rows: int, limits: Limits) -> int:
    """A block holds any row within ``max_row_bytes``: a row the reader cannot fit breaks it."""
    return max(1 << 16, min(chunk_rows * 128, limits.chunk_bytes), limits.row_bytes + 1)


def _rebatch(
    batches: Iterator[pa.RecordBatch] | pacsv.CSVStreamingReader,
    chunk_rows: int,
    chunk_bytes: int,
    malformed: list[MalformedRow],
) -> Iterator[tuple[pa.Table, list[MalformedRow]]]:
    """Regroup reader blocks into chunks of exactly ``chunk_rows`` (the last one shorter), or
    fewer rows where they reach ``chunk_bytes`` first (wide rows: 50k rows of 4 KB ids in one
    chunk once took 1.36 GB)."""
    pending: list[pa.RecordBatch] = []
    size, nbytes, yielded = 0, 0, False
    for batch in batches:
        pending.append(batch)
        size += batch.num_rows
        nbytes += batch.nbytes
        while size >= chunk_rows or (size and nbytes >= chunk_bytes):
            take = min(chunk_rows, size if nbytes < chunk_bytes else max(1, size * chunk_bytes // nbytes))
            table = pa.Table.from_batches(pending)
            yield table.slice(0, take), _drain(malformed)
            yielded = True
            rest = table.slice(take)
            pending, size, nbytes = rest.to_batches(), rest.num_rows, rest.nbytes if rest.num_rows else 0
    if size or malformed or not yielded:
        yield pa.Table.from_batches(pending, schema=_schema_of(batches)), _drain(malformed)


def _schema_of(batches: object) -> pa.Schema:
    return getattr(batches, "schema", pa.schema([]))


def _drain(malformed: list[MalformedRow]) -> list[MalformedRow]:
    taken = list(malformed)
    malformed.clear()
    return taken


def _parquet_batches(
    handle: io.IOBase, chunk_rows: int, limits: Limits
) -> Iterator[tuple[pa.Table, list[MalformedRow]]]:
    """Batches with text columns still dictionary-encoded: ``read_chunks`` measures them (a few
    KB of dictionary may stand for gigabytes of text) before ``_plain`` decodes them."""
    parquet = pq.ParquetFile(handle)
    _check_width(len(parquet.schema_arrow))
    _check_decoded_size(parquet.metadata, limits)
    text = [f.name for f in parquet.schema_arrow if _is_text(f.type)]
    handle.seek(0)
    parquet = pq.ParquetFile(handle, read_dictionary=text)
    empty = True
    rows, decoded = parquet.metadata.num_rows, _decoded_size(parquet.metadata)
    batch_rows = max(1, min(chunk_rows, limits.chunk_bytes * rows // max(decoded, 1)))  # wide rows: fewer
    for batch in parquet.iter_batches(batch_size=batch_rows):
        empty = False
        yield pa.Table.from_batches([batch]), []
    if empty:
        yield parquet.schema_arrow.empty_table(), []


def _decoded_size(metadata: pq.FileMetaData) -> int:
    return sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))


def _check_decoded_size(metadata: pq.FileMetaData, limits: Limits) -> None:
    """The row groups' uncompressed sizes, from the footer, before any page is read."""
    size = _decoded_size(metadata)
    if size > limits.parquet_decoded_bytes:
        raise _above("row groups", size, "max_parquet_decoded_bytes", limits.parquet_decoded_bytes)


def _plain(table: pa.Table) -> pa.Table:
    """Parquet keeps its numbers and text; values the contract can only judge as text become the
    text a CSV would carry: times as ISO-8601 (UTC ones ending in Z), nested values as JSON,
    bytes as UTF-8, dictionary columns decoded. A typed ``requested_at`` is then accepted, and a
    struct where the contract wants text is quarantined instead of breaking a check."""
    return pa.Table.from_arrays(
        [_plain_column(name, column) for name, column in zip(table.column_names, table.columns, strict=True)],
        names=table.column_names,
    )


def _plain_column(name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_dictionary(kind):
        return _plain_column(name, column.cast(kind.value_type))
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:
            text = pc.strftime(column.cast(pa.timestamp(kind.unit, "UTC")), format="%Y-%m-%dT%H:%M:%S")
            return pc.binary_join_element_wise(text, pa.scalar("Z"), "")
        return pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
    if pa.types.is_date(kind):
        return pc.strftime(column, format="%Y-%m-%d")
    if pa.types.is_time(kind):
        return column.cast(pa.string())
    if pa.types.is_nested(kind):
        values = [None if v is None else json.dumps(v, default=str) for v in column.to_pylist()]
        return pa.chunked_array([pa.array(values, pa.string())])
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        try:
            return column.cast(pa.binary()).cast(pa.string())
        except pa.ArrowInvalid as exc:
            raise BadInput(f"column {name!r} holds bytes that are not UTF-8 text") from exc
    return column


def _jsonl_batches(
    handle: io.IOBase, chunk_rows: int, limits: Limits
) -> Iterator[tuple[pa.Table, list[MalformedRow]]]:
    """JSON Lines in chunks, one ``json.loads`` per line (faster than ``pd.read_json`` here, and
    exact about which line is bad): a line that is not one JSON object is quarantined like a CSV
    row with the wrong number of fields, and every value is kept as text (objects as JSON)."""
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="strict", newline="\n")
    before, any_rows = 0, False  # lines before this block
    while block := _take(text, chunk_rows, limits.chunk_bytes):
        records: list[dict] = []
        malformed: list[MalformedRow] = []
        for offset, line in enumerate(block):
            if not line.strip():
                continue
            problem = _json_object(line, records)
            if problem is not None:
                malformed.append(MalformedRow(before + offset + 1, problem[0], problem[1]))
        before += len(block)
        frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
        _check_width(frame.shape[1])
        any_rows = True
        yield pa.Table.from_pandas(_as_text(frame), preserve_index=False), malformed
    if not any_rows:
        yield pa.table({}), []


def _take(lines: Iterator[str], count: int, chunk_bytes: int) -> list[str]:
    """The next ``count`` lines, or fewer once they hold ``chunk_bytes`` characters."""
    taken, size = [], 0
    for line in itertools.islice(lines, count):
        taken.append(line)
        size += len(line)
        if size >= chunk_bytes:
            break
    return taken


def _json_object(line: str, records: list[dict]) -> tuple[str, str] | None:
    """Append the line's object to ``records``, or say (rule, detail) why it is not one."""
    try:
        value = json.loads(line, parse_constant=str, object_pairs_hook=_unique_keys)
    except ValueError as exc:  # JSONDecodeError, repeated keys, numbers too long to convert
        return "jsonl_invalid_json", f"{_first_line(exc)}: {line.strip()[:200]}"
    if not isinstance(value, dict):
        return "jsonl_not_an_object", f"a JSON {type(value).__name__}, not an object: {line.strip()[:200]}"
    records.append(value)
    return None


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """An object whose key repeats is ambiguous (parsers keep the first or the last): refuse it.

    (``parse_constant=str`` likewise keeps NaN/Infinity as the text that was sent.)"""
    value = dict(pairs)
    if len(value) != len(pairs):
        repeated = next(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
        raise ValueError(f"key {repeated!r} appears twice in one object")
    return value


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
