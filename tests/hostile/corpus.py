"""A corpus of malformed and adversarial batch files, generated (never committed as binaries).

Each ``case_*`` function returns ``(file name, bytes, expectation)``. The expectation says what a
person operating the system would expect: the batch committed with some rows quarantined for a
named rule, rejected whole for a reason that names the fault, or recognised as a resubmission.
``CASES`` lists them in the order they arrive in the inbox (the flow takes files oldest first);
``case_already_scored`` reuses ids of ``case_crlf_line_endings``, which arrives before it.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rendezvous.demo.data import NUMERIC_REQUEST_COLUMNS, REQUEST_COLUMNS, make_customers, make_requests

COLUMNS = REQUEST_COLUMNS
NUMERIC = NUMERIC_REQUEST_COLUMNS
FORMULA_IDS = [
    "=cmd|' /C calc'!A0",
    "+1+1",
    "@SUM(A1:A9)",
    "-2+3",
    "\t=1+1",
    '=HYPERLINK("x")',
    " =1+1",
    "\uff1d1+1",
    "\uff0b1",
    "-17",
    "\uff20SUM(A1)",
]
TYPE_RULE = "expect_column_values_to_be_in_type_list"
NOT_NULL = "expect_column_values_to_not_be_null"
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
UNIQUE = "expect_column_values_to_be_unique"


@dataclass(frozen=True)
class Expect:
    """What should become of one file.

    ``state``: committed, rejected (whole batch, ``reason`` names why), duplicate, or waiting
    (not taken: stays in the inbox as it was).
    ``rules``: rules that must appear among the batch's quarantined rows.
    ``rows_in`` / ``scored`` / ``quarantined``: exact counts where the case pins them.
    """

    state: str
    reason: str | None = None
    rules: tuple[str, ...] = ()
    rows_in: int | None = None
    scored: int | None = None
    quarantined: int | None = None


Case = tuple[str, bytes, Expect]


@lru_cache(maxsize=1)
def customers() -> pd.DataFrame:
    """The demo's reference customers (same seed as ``build_demo``), so ids join."""
    return make_customers(5000, seed=7)


def clean(n: int, seed: int) -> pd.DataFrame:
    """``n`` valid rows with ids unique to ``seed`` (columns as text, like a CSV reader sees)."""
    frame = make_requests(n, customers(), datetime(2026, 11, 10, tzinfo=UTC), seed=seed, id_prefix=f"h{seed}")
    return frame.astype(object)


def _csv(frame: pd.DataFrame, **kwargs: object) -> bytes:
    return frame.to_csv(index=False, **kwargs).encode("utf-8")


def _jsonl(records: list[object]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _with(frame: pd.DataFrame, cells: dict[tuple[int, str], object]) -> pd.DataFrame:
    out = frame.copy()
    for (row, column), value in cells.items():
        out.loc[row, column] = value
    return out


# --- the cases the scoring issue names --------------------------------------------------------


def case_empty_file() -> Case:
    return "empty.csv", b"", Expect("rejected", reason="empty file", rows_in=0)


def case_header_only() -> Case:
    return "header-only.csv", (",".join(COLUMNS) + "\n").encode(), Expect("rejected", "no rows", rows_in=0)


def case_unknown_format() -> Case:
    return "workbook.xlsx", b"PK\x03\x04 not a workbook", Expect("rejected", "unknown format", rows_in=0)


def case_undecodable_line() -> Case:
    """UTF-8 with one Latin-1 line in the middle: the reason names the line."""
    data = _csv(clean(6, 101)).replace(b"\n", b"\ncaf\xe9,\xff\n", 1)
    return "undecodable.csv", data, Expect("rejected", "line 2", rows_in=0)


def case_missing_column() -> Case:
    frame = clean(5, 102).drop(columns=["purpose"])
    return "missing-column.csv", _csv(frame), Expect("rejected", "purpose", rows_in=5, scored=0)


def case_extra_column() -> Case:
    frame = clean(5, 103).assign(favourite_colour="blue")
    return "extra-column.csv", _csv(frame), Expect("rejected", "favourite_colour", rows_in=5, scored=0)


def case_wrong_types() -> Case:
    frame = _with(
        clean(20, 104), {(1, "loan_amount"): "lots", (2, "credit_score"): "good", (3, "term_months"): "36.5"}
    )
    return "wrong-types.csv", _csv(frame), Expect("committed", rules=(TYPE_RULE,), rows_in=20, scored=17)


def case_nulls() -> Case:
    frame = _with(clean(20, 105), {(1, "annual_income"): None, (2, "customer_id"): None})
    return "nulls.csv", _csv(frame), Expect("committed", rules=(NOT_NULL,), rows_in=20, scored=18)


def case_out_of_range() -> Case:
    frame = _with(
        clean(20, 106), {(1, "credit_score"): 1200, (2, "interest_rate"): -0.5, (3, "term_months"): 18}
    )
    return (
        "out-of-range.csv",
        _csv(frame),
        Expect("committed", rules=(BETWEEN, IN_SET), rows_in=20, scored=17),
    )


def case_unknown_category() -> Case:
    frame = _with(clean(20, 107), {(1, "purpose"): "yacht", (2, "purpose"): "Car"})
    return "unknown-category.csv", _csv(frame), Expect("committed", rules=(IN_SET,), rows_in=20, scored=18)


def case_several_faults_in_one_row() -> Case:
    """One row breaking three rules: three quarantine lines, one quarantined row."""
    frame = _with(
        clean(20, 147), {(1, "loan_amount"): "lots", (1, "purpose"): "yacht", (1, "credit_score"): 9999}
    )
    rules = (TYPE_RULE, IN_SET, BETWEEN)
    expect = Expect("committed", rules=rules, rows_in=20, scored=19, quarantined=1)
    return "three-faults-one-row.csv", _csv(frame), expect


def case_duplicate_ids() -> Case:
    frame = clean(20, 108)
    frame.loc[5, "request_id"] = frame.loc[4, "request_id"]
    return "duplicate-ids.csv", _csv(frame), Expect("committed", rules=(UNIQUE,), rows_in=20, scored=18)


def case_crlf_line_endings() -> Case:
    """Windows line endings: an ordinary batch. Its ids are sent again by ``case_already_scored``."""
    return "crlf.csv", _csv(clean(20, 109), lineterminator="\r\n"), Expect("committed", rows_in=20, scored=20)


def case_already_scored() -> Case:
    frame = clean(20, 110)
    frame.loc[0:2, "request_id"] = clean(20, 109)["request_id"].iloc[0:3].to_numpy()
    rules = ("request_id_already_scored",)
    return "already-scored.csv", _csv(frame), Expect("committed", rules=rules, rows_in=20, scored=17)


def case_truncated_parquet() -> Case:
    raw = _parquet(pa.Table.from_pandas(clean(10, 111).astype(str), preserve_index=False))
    return "truncated.parquet", raw[: len(raw) // 2], Expect("rejected", "parquet", rows_in=0)


# --- sizes -----------------------------------------------------------------------------------


def case_huge_field() -> Case:
    """A 5 MB cell: over max_cell_bytes (and max_row_bytes), so the batch is rejected, the limit named."""
    frame = _with(clean(10, 112), {(3, "purpose"): "car" + "A" * (5 * 1024 * 1024)})
    return "huge-field.csv", _csv(frame), Expect("rejected", "max_row_bytes", rows_in=0)


def case_big_cell_within_limits() -> Case:
    """A 900 KB cell, under max_cell_bytes: its row is quarantined (its value kept as a prefix,
    length and sha256), the other rows are scored."""
    frame = _with(clean(10, 160), {(3, "purpose"): "car" + "A" * (900 * 1024)})
    return "big-cell.csv", _csv(frame), Expect("committed", rules=(IN_SET,), rows_in=10, scored=9)


def case_every_id_too_long() -> Case:
    """Ids the store cannot keep, in every row: the invalid share counts that reason too."""
    frame = clean(10, 161)
    frame["request_id"] = [f"r{i}-" + "9" * 600 for i in range(10)]
    rules = ("request_id_too_long",)
    expect = Expect("rejected", "rows set aside", rules=rules, rows_in=10, scored=0)
    return "all-ids-too-long.csv", _csv(frame), expect


def case_markup_column() -> Case:
    """A column named like rich markup: rejected for its columns; every command still prints it."""
    frame = clean(5, 149).assign(**{"[/]": "x", "[link=https://evil.example]click[/link]": "y"})
    return "markup-column.csv", _csv(frame), Expect("rejected", "'[/]'", rows_in=5, scored=0)


def case_million_columns_header() -> Case:
    header = ",".join(f"c{i}" for i in range(1_000_000))
    row = ",".join("1" for _ in range(1_000_000))
    return "million-columns.csv", f"{header}\n{row}\n".encode(), Expect("rejected", "line 1 of 7,888,889")


def case_too_many_columns() -> Case:
    """20k columns fit in a read block but not in MAX_COLUMNS: refused before any parsing."""
    return "too-wide.csv", _widened(clean(2, 145), 20_000), Expect("rejected", "20,011 columns", rows_in=0)


def case_wide_header() -> Case:
    """5,000 extra columns: rejected for its columns, with a reason that stays readable (bounded)."""
    data = _widened(clean(3, 113), 5_000)
    return "wide.csv", data, Expect("rejected", "and 4980 more", rows_in=3, scored=0)


def _widened(frame: pd.DataFrame, extra: int) -> bytes:
    """``frame`` as CSV with ``extra`` more columns ("extra_<i>", all "0"), written as text."""
    header, *rows = _csv(frame).decode().splitlines()
    header += "".join(f",extra_{i}" for i in range(extra))
    return "".join([header + "\n", *(row + ",0" * extra + "\n" for row in rows)]).encode()


def case_long_request_id() -> Case:
    """A 10k-character request id: longer than the store keeps, so that row is quarantined."""
    frame = _with(clean(10, 114), {(2, "request_id"): "r-" + "9" * 10_000})
    return (
        "long-id.csv",
        _csv(frame),
        Expect("committed", rules=("request_id_too_long",), rows_in=10, scored=9),
    )


# --- encodings -------------------------------------------------------------------------------


def case_utf16_bom() -> Case:
    data = clean(5, 115).to_csv(index=False).encode("utf-16")
    return "utf16.csv", data, Expect("rejected", "UTF-16", rows_in=0)


def case_latin1_file() -> Case:
    frame = _with(clean(5, 116), {(0, "purpose"): "crédit"})
    data = frame.to_csv(index=False).encode("latin-1")
    return "latin1.csv", data, Expect("rejected", "not UTF-8", rows_in=0)


def case_utf8_bom_csv() -> Case:
    """Excel's "CSV UTF-8" starts with a byte order mark: accepted like any UTF-8 file."""
    return "utf8-bom.csv", b"\xef\xbb\xbf" + _csv(clean(10, 117)), Expect("committed", rows_in=10, scored=10)


def case_utf8_bom_jsonl() -> Case:
    records = clean(10, 118).to_dict(orient="records")
    return "utf8-bom.jsonl", b"\xef\xbb\xbf" + _jsonl(records), Expect("committed", rows_in=10, scored=10)


def case_binary_garbage() -> Case:
    rng = random.Random(119)
    data = bytes([0xFF, 0xFE, 0x00, 0x81]) + bytes(rng.randrange(256) for _ in range(4096))
    return "garbage.csv", data, Expect("rejected", "UTF-", rows_in=0)


def case_nul_bytes() -> Case:
    """NUL characters are valid UTF-8 but no SQL text column stores them: quarantined, not fatal."""
    frame = _with(clean(10, 120), {(1, "request_id"): "r-nul\x00id", (2, "customer_id"): "C\x00001"})
    rules = ("request_id_has_nul", "reference_key_missing")
    return "nul-bytes.csv", _csv(frame), Expect("committed", rules=rules, rows_in=10, scored=8)


# --- values ----------------------------------------------------------------------------------


def case_formula_injection() -> Case:
    """Ids and values a spreadsheet would execute; they reach the response and the rejects."""
    frame = clean(20, 121)
    for row, text in enumerate(FORMULA_IDS):
        frame.loc[row, "request_id"] = text
    frame.loc[1, "purpose"] = "=1+2"  # "+1+1" lands in the rejects with a formula value
    frame.loc[2, "credit_score"] = "-2+3"
    frame.loc[7, "customer_id"] = "@SUM(1,1)"
    rules = (IN_SET, TYPE_RULE, "reference_key_missing")
    return "formula.csv", _csv(frame), Expect("committed", rules=rules, rows_in=20, scored=17)


def case_nan_and_infinity() -> Case:
    """NaN is not a number the contract accepts; infinities are numbers out of every range.
    9 bad rows of 60 stay under the 20% that would reject the batch."""
    spellings = ["NaN", "nan", "-NaN", "inf", "-inf", "Infinity", "-Infinity", "INF", "1e999"]
    cells = {(i, NUMERIC[i % len(NUMERIC)]): text for i, text in enumerate(spellings)}
    frame = _with(clean(60, 122), cells)
    rules = (TYPE_RULE, BETWEEN, IN_SET)
    return "nan-inf.csv", _csv(frame), Expect("committed", rules=rules, rows_in=60, scored=51)


def case_null_spellings_in_text() -> Case:
    """Text that merely looks like a null marker is text: ids "NA", "null", "NaN" are real ids."""
    frame = clean(10, 123)
    frame.loc[0:2, "request_id"] = ["NA", "null", "NaN"]
    frame.loc[3, "purpose"] = "N/A"  # shown as sent in the rejects, not as a missing value
    rules = (IN_SET,)
    return "null-words.csv", _csv(frame), Expect("committed", rules=rules, rows_in=10, scored=9)


def case_number_spellings() -> Case:
    """Spellings of valid numbers a person would accept: exponent, padding, minus zero, 36.0."""
    cells = {
        (0, "loan_amount"): "1e3",
        (1, "credit_score"): "  642 ",
        (2, "employment_years"): "-0",
        (3, "term_months"): "36.0",
        (4, "interest_rate"): "+0.05",
        (5, "annual_income"): "5.5E4",
    }
    frame = _with(clean(10, 124), cells)
    return "number-spellings.csv", _csv(frame), Expect("committed", rows_in=10, scored=10)


def case_quoted_newlines() -> Case:
    """RFC 4180 quoted fields with line breaks and quotes inside: one record each, not several."""
    frame = _with(
        clean(12, 125),
        {(2, "purpose"): "car\nboat", (4, "request_id"): 'r-"quoted"\r\nid', (6, "customer_id"): "C\n1"},
    )
    rules = (IN_SET, "reference_key_missing")
    return "quoted-newlines.csv", _csv(frame), Expect("committed", rules=rules, rows_in=12, scored=10)


def case_bare_carriage_return() -> Case:
    """A value holding an unquoted CR, as pandas on Python 3.11 writes it (LF line ends): every
    CSV reader (Arrow, Python's csv) takes a bare CR as a line break, so the row arrives as two
    lines with the wrong field count. Both are quarantined with their text; nothing is lost, and
    rows in counts the two halves."""
    frame = _with(clean(10, 148), {(4, "purpose"): "car\rboat"})
    assert b"car\rboat" in _csv(frame)  # the writer did not quote it
    expect = Expect("committed", rules=("csv_row_field_count",), rows_in=11, scored=9, quarantined=2)
    return "bare-cr.csv", _csv(frame), expect


def case_duplicate_header() -> Case:
    frame = clean(5, 126)
    data = _csv(frame).replace(b"debt_to_income", b"loan_amount", 1)
    return "duplicate-header.csv", data, Expect("rejected", "loan_amount", rows_in=5, scored=0)


def case_only_whitespace() -> Case:
    return "whitespace.csv", b"   \n\n \t \n  \n", Expect("rejected", "columns")


def case_malformed_rows() -> Case:
    """Rows with too many or too few fields and an unterminated quote at the end."""
    lines = _csv(clean(10, 127)).splitlines(keepends=True)
    lines[2] = lines[2].rstrip(b"\n") + b",extra,fields\n"
    lines[4] = b"r-short,C00001\n"
    data = b"".join(lines)
    return (
        "malformed-rows.csv",
        data,
        Expect("committed", rules=("csv_row_field_count",), rows_in=10, scored=8),
    )


# --- JSON Lines ------------------------------------------------------------------------------


def case_jsonl_nested_objects() -> Case:
    records = clean(10, 128).to_dict(orient="records")
    records[1]["loan_amount"] = {"$numberDouble": "5000"}
    records[2]["purpose"] = ["car", "home_improvement"]
    records[3]["request_id"] = {"$gt": ""}
    rules = (TYPE_RULE, IN_SET)
    return "nested.jsonl", _jsonl(records), Expect("committed", rules=rules, rows_in=10, scored=8)


def case_jsonl_non_object_lines() -> Case:
    """Lines that are not one JSON object (an array, a number, broken JSON): those lines are
    quarantined like a CSV row with the wrong number of fields; the others are scored."""
    records: list[object] = list(clean(20, 129).to_dict(orient="records"))
    lines = [json.dumps(r) for r in records]
    lines[3] = json.dumps([1, 2, 3])
    lines[5] = "42"
    lines[7] = '{"request_id": "r-broken", '
    data = ("\n".join(lines) + "\n").encode()
    rules = ("jsonl_not_an_object", "jsonl_invalid_json")
    return "non-object.jsonl", data, Expect("committed", rules=rules, rows_in=20, scored=17)


def case_jsonl_array_document() -> Case:
    """A JSON array of objects (one document, not JSON Lines): no line is an object on its own,
    so the batch is rejected for its unreadable lines, each of them quarantined."""
    data = json.dumps(clean(3, 130).to_dict(orient="records"), indent=1).encode()
    rules = ("jsonl_invalid_json",)
    return "array.ndjson", data, Expect("rejected", "unreadable", rules=rules, scored=0)


def case_jsonl_blank_lines() -> Case:
    lines = [json.dumps(r) for r in clean(6, 131).to_dict(orient="records")]
    data = ("\n\n".join(lines) + "\n\n\n").encode()
    return "blank-lines.ndjson", data, Expect("committed", rows_in=6, scored=6)


# --- Parquet ---------------------------------------------------------------------------------


def case_parquet_numbers_as_strings() -> Case:
    table = pa.Table.from_pandas(clean(10, 132).astype(str), preserve_index=False)
    return "strings.parquet", _parquet(table), Expect("committed", rows_in=10, scored=10)


def case_parquet_nested_struct() -> Case:
    """A struct column where the contract wants text: those rows are quarantined, never crash;
    every row is, so the batch is rejected (the invalid share counts every reason)."""
    frame = clean(6, 133)
    rows = frame.to_dict(orient="records")
    fields = {c: pa.string() for c in COLUMNS}
    fields["customer_id"] = pa.struct([("id", pa.string()), ("region", pa.string())])
    for row in rows:
        row["customer_id"] = {"id": row["customer_id"], "region": "north"}
        for column in NUMERIC:
            row[column] = str(row[column])
    table = pa.Table.from_pylist(rows, schema=pa.schema(fields))
    rules = ("reference_key_missing",)
    expect = Expect("rejected", "rows set aside", rules=rules, rows_in=6, scored=0)  # all of them
    return "struct.parquet", _parquet(table), expect


def case_parquet_typed_timestamp() -> Case:
    """requested_at as a real timestamp column, numbers as numbers: what a data engineer writes."""
    frame = clean(8, 134)
    frame["requested_at"] = pd.to_datetime(frame["requested_at"], utc=True)
    for column in NUMERIC:
        frame[column] = pd.to_numeric(frame[column])
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return "typed.parquet", _parquet(table), Expect("committed", rows_in=8, scored=8)


def case_csv_named_parquet() -> Case:
    return "text.parquet", _csv(clean(3, 135)), Expect("rejected", "parquet", rows_in=0)


# --- compressed inputs: never decompressed --------------------------------------------------


def _gzip_bomb(megabytes: int = 1024) -> bytes:
    """A gzip stream of ``megabytes`` MiB of "0" in ~1 kB per MiB: concatenated gzip members
    are one valid stream, so one compressed MiB repeated makes the bomb without building it."""
    member = gzip.compress(b"0" * (1 << 20), compresslevel=9, mtime=0)
    return member * megabytes


def case_gzip_bomb() -> Case:
    return "bomb.csv.gz", _gzip_bomb(), Expect("rejected", "max_row_bytes", rows_in=0)


def case_gzip_named_csv() -> Case:
    return "bomb-in-disguise.csv", _gzip_bomb(512), Expect("rejected", "not UTF-8", rows_in=0)


def case_zip_bomb() -> Case:
    sink = io.BytesIO()
    block = b"0" * (1 << 20)
    with (
        zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("requests.csv", "w") as member,
    ):
        for _ in range(64):
            member.write(block)
    return "bomb.zip", sink.getvalue(), Expect("rejected", "unknown format", rows_in=0)


# --- file names ------------------------------------------------------------------------------


def case_name_traversal() -> Case:
    """Traversal spelled inside a name (a name cannot hold "/"): every output stays in its folder."""
    name = "x..%2F..%2Fetc%2Fpasswd..\\..\\win.ini.csv"
    return name, _csv(clean(4, 140)), Expect("committed", rows_in=4, scored=4)


def case_name_leading_dots() -> Case:
    """A name starting with "." is an upload in progress by convention (rsync, many uploaders
    write ".name" and rename it when done): never taken, left untouched, no ledger row."""
    return "..%2F..%2Fescape.csv", _csv(clean(4, 146)), Expect("waiting")


def case_name_leading_dashes() -> Case:
    return "--rf -- --help.csv", _csv(clean(4, 141)), Expect("committed", rows_in=4, scored=4)


def case_name_spaces_and_unicode() -> Case:
    return "  prêt à porter 名前 ☃ .csv", _csv(clean(4, 142)), Expect("committed", rows_in=4, scored=4)


def case_name_newline() -> Case:
    return "line\nbreak\r.csv", _csv(clean(4, 143)), Expect("committed", rows_in=4, scored=4)


def case_name_terminal_escapes() -> Case:
    """Escape sequences that clear the screen and recolour, and a forged line: shown as escapes."""
    name = "\x1b[2J\x1b[31mred\x1b]8;;javascript:alert(1)\x07link\x1b]8;;\x07\nFORGED: approved by alice.csv"
    return name, _csv(clean(4, 150)), Expect("committed", rows_in=4, scored=4)


def case_name_markup_and_bidi() -> Case:
    """Rich markup (a name holds no "/", so no closing tag: the column case has those), a
    right-to-left override, and markdown that would break out of a code span."""
    name = "[link=javascript:alert(1)]x [blink red] \u202evsc.exe \u2066` <img src=x onerror=alert(1)> `.csv"
    return name, _csv(clean(4, 151)), Expect("committed", rows_in=4, scored=4)


def case_name_not_utf8() -> Case:
    """A name whose bytes are not UTF-8 (Latin-1 "\xe9"): Python hands it over escaped."""
    return "caf\udce9-\udcff.csv", _csv(clean(4, 144)), Expect("committed", rows_in=4, scored=4)


def case_name_long_rejected() -> Case:
    """A 250-byte name on a rejected batch: its reason note (name + .reason.txt) must still fit."""
    return "x" * 246 + ".csv", b"request_id\n", Expect("rejected", "missing columns", rows_in=0)


def case_name_long_extension() -> Case:
    return "batch." + "e" * 240, b"a,b\n1,2\n", Expect("rejected", "unknown format", rows_in=0)


def case_name_no_extension() -> Case:
    return "README", b"just text\n", Expect("rejected", "unknown format", rows_in=0)


def case_resubmitted() -> Case:
    """The same bytes as ``case_crlf_line_endings`` under another name: recognised, not rescored."""
    return "crlf-again.csv", _csv(clean(20, 109), lineterminator="\r\n"), Expect("duplicate", "same content")


CASES: list[Callable[[], Case]] = [
    case_empty_file,
    case_header_only,
    case_unknown_format,
    case_undecodable_line,
    case_missing_column,
    case_extra_column,
    case_wrong_types,
    case_nulls,
    case_out_of_range,
    case_unknown_category,
    case_several_faults_in_one_row,
    case_duplicate_ids,
    case_crlf_line_endings,
    case_already_scored,
    case_truncated_parquet,
    case_huge_field,
    case_big_cell_within_limits,
    case_every_id_too_long,
    case_markup_column,
    case_million_columns_header,
    case_too_many_columns,
    case_wide_header,
    case_long_request_id,
    case_utf16_bom,
    case_latin1_file,
    case_utf8_bom_csv,
    case_utf8_bom_jsonl,
    case_binary_garbage,
    case_nul_bytes,
    case_formula_injection,
    case_nan_and_infinity,
    case_null_spellings_in_text,
    case_number_spellings,
    case_quoted_newlines,
    case_bare_carriage_return,
    case_duplicate_header,
    case_only_whitespace,
    case_malformed_rows,
    case_jsonl_nested_objects,
    case_jsonl_non_object_lines,
    case_jsonl_array_document,
    case_jsonl_blank_lines,
    case_parquet_numbers_as_strings,
    case_parquet_nested_struct,
    case_parquet_typed_timestamp,
    case_csv_named_parquet,
    case_gzip_bomb,
    case_gzip_named_csv,
    case_zip_bomb,
    case_name_traversal,
    case_name_leading_dots,
    case_name_leading_dashes,
    case_name_spaces_and_unicode,
    case_name_newline,
    case_name_terminal_escapes,
    case_name_markup_and_bidi,
    case_name_not_utf8,
    case_name_long_rejected,
    case_name_long_extension,
    case_name_no_extension,
    case_resubmitted,
]


def build() -> list[Case]:
    """Every case, in arrival order."""
    return [make() for make in CASES]
