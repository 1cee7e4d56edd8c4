"""Regressions for the defects the hostile corpus and the random batches found (issue 6, item 5),
pinned at the function that was fixed, without a flow run."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import insert, text

from rendezvous.batchfiles import (
    MAX_COLUMNS,
    BadInput,
    Limits,
    check_utf8,
    detect_format,
    list_batches,
    read_chunks,
    utf8_name,
)
from rendezvous.names import InvalidName, checked_name, slug
from rendezvous.outputs import NAME_MAX, BatchOutputs, defuse_formulas, note_name
from rendezvous.printing import markdown, terminal
from rendezvous.records import (
    QUARANTINED_VALUE_CHARS,
    counts,
    storable_text,
    unstorable_ids,
    write_quarantine,
)
from rendezvous.scorelog.files import AttemptScores
from rendezvous.settings import PROJECT_ROOT
from rendezvous.store import Store
from rendezvous.store.schema import quarantine
from rendezvous.validation import load_contract, validate

HEADER = (
    "request_id,customer_id,requested_at,loan_amount,term_months,interest_rate,purpose,"
    "annual_income,employment_years,credit_score,debt_to_income"
)
ROW = "r-{i},C00001,2026-11-10T10:00:00Z,5000,36,0.1,car,50000,3,700,0.3"


def _read(path: Path, fmt: str, chunk_rows: int = 100) -> list[tuple[pd.DataFrame, list]]:
    return list(read_chunks(str(path), fmt, chunk_rows))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def contract():
    return load_contract(PROJECT_ROOT / "expectations" / "loan_requests.json")


# --- names ----------------------------------------------------------------------------------


def test_a_name_that_is_not_utf8_is_renamed_to_its_percent_escaped_form(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9 \xff.csv"
    with open(raw, "wb") as handle:
        handle.write(b"x")
    assert list_batches(str(tmp_path)) == ["caf%E9 %FF.csv"]
    assert (tmp_path / "caf%E9 %FF.csv").read_bytes() == b"x"
    assert utf8_name("plain-é.csv") == "plain-é.csv"


def test_reason_notes_fit_the_file_system_name_limit() -> None:
    long_a, long_b = "a" * 246 + "1.csv", "a" * 246 + "2.csv"
    assert note_name("x.csv") == "x.csv.reason.txt"
    for name in (long_a, long_b, "é" * 126 + ".csv"):
        assert len(note_name(name).encode()) <= NAME_MAX
        assert note_name(name).endswith(".reason.txt")
    assert note_name(long_a) != note_name(long_b)


# --- encodings and sizes --------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_are_named_in_the_reason(tmp_path: Path, encoding: str) -> None:
    path = _write(tmp_path / "b.csv", f"{HEADER}\n".encode(encoding))
    with pytest.raises(BadInput, match=encoding.upper()):
        check_utf8(str(path))


def test_a_utf8_bom_is_not_data_in_csv_or_jsonl(tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "b.csv", f"\ufeff{HEADER}\n{ROW.format(i=1)}\n".encode())
    assert _read(csv_path, "csv")[0][0].columns[0] == "request_id"
    jsonl_path = _write(tmp_path / "b.jsonl", '\ufeff{"request_id": "r-1"}\n'.encode())
    assert _read(jsonl_path, "jsonl")[0][0]["request_id"].tolist() == ["r-1"]


def test_a_header_wider_than_max_columns_is_refused_before_parsing(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1))
    path = _write(tmp_path / "wide.csv", f"{header}\n".encode())
    with pytest.raises(BadInput, match=f"{MAX_COLUMNS + 1:,} columns"):
        _read(path, "csv")


def test_a_header_longer_than_a_read_block_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "long.csv", b"c" * (2 << 20) + b"\n1\n")
    with pytest.raises(BadInput, match="header line is longer"):
        _read(path, "csv")


# --- values ---------------------------------------------------------------------------------


def test_csv_null_words_are_text_and_only_an_empty_field_is_missing(tmp_path: Path) -> None:
    path = _write(tmp_path / "n.csv", b"a,b\nNA,null\nNaN,\n")
    frame = _read(path, "csv")[0][0]
    assert frame["a"].tolist() == ["NA", "NaN"]
    assert frame["b"].iloc[0] == "null" and pd.isna(frame["b"].iloc[1])


def test_jsonl_lines_that_are_not_objects_are_quarantined_by_line(tmp_path: Path) -> None:
    lines = ['{"a": "1"}', "[1, 2]", "", "42", '{"a": NaN}', '{"a": 1, "a": 2}', "{broken"]
    path = _write(tmp_path / "j.jsonl", ("\n".join(lines) + "\n").encode())
    [(frame, malformed)] = _read(path, "jsonl")
    assert frame["a"].tolist() == ["1", "NaN"]  # NaN is kept as the text that was sent
    assert [(m.line, m.rule) for m in malformed] == [
        (2, "jsonl_not_an_object"),
        (4, "jsonl_not_an_object"),
        (6, "jsonl_invalid_json"),
        (7, "jsonl_invalid_json"),
    ]
    assert "appears twice" in malformed[2].value


def test_jsonl_line_numbers_run_across_chunks(tmp_path: Path) -> None:
    lines = [json.dumps({"a": str(i)}) for i in range(5)] + ["7"]
    path = _write(tmp_path / "j.jsonl", ("\n".join(lines) + "\n").encode())
    chunks = _read(path, "jsonl", chunk_rows=2)
    assert [len(f) for f, _ in chunks] == [2, 2, 1]
    assert [m.line for _, ms in chunks for m in ms] == [6]
    assert chunks[2][0].index.tolist() == [4]


def test_parquet_values_the_contract_judges_as_text_become_text(tmp_path: Path) -> None:
    when = datetime(2026, 11, 10, 10, 23, tzinfo=UTC)
    table = pa.table(
        {
            "utc": pa.array([when], pa.timestamp("us", tz="UTC")),
            "paris": pa.array([when], pa.timestamp("us", tz="Europe/Paris")),
            "naive": pa.array([when.replace(tzinfo=None)], pa.timestamp("s")),
            "nested": pa.array([{"id": "C1"}], pa.struct([("id", pa.string())])),
            "category": pa.array(["car"]).dictionary_encode(),
            "raw": pa.array([b"r-1"], pa.binary()),
            "number": pa.array([1.5]),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    row = _read(tmp_path / "t.parquet", "parquet")[0][0].iloc[0].to_dict()
    assert row["utc"] == row["paris"] == "2026-11-10T10:23:00.000000Z"
    assert row["naive"].startswith("2026-11-10T10:23:00.")  # no zone: the regex will say so
    assert not row["naive"].endswith("Z")
    assert row["nested"] == '{"id": "C1"}' and row["category"] == "car" and row["raw"] == "r-1"
    assert row["number"] == 1.5


def test_parquet_bytes_that_are_not_utf8_are_refused_naming_the_column(tmp_path: Path) -> None:
    pq.write_table(pa.table({"request_id": pa.array([b"\xff\xfe"], pa.binary())}), tmp_path / "b.parquet")
    with pytest.raises(BadInput, match="request_id"):
        _read(tmp_path / "b.parquet", "parquet")


# --- validation -----------------------------------------------------------------------------


def _frame(n: int, **extra: str) -> pd.DataFrame:
    rows = [dict(zip(HEADER.split(","), ROW.format(i=i).split(","), strict=True)) for i in range(n)]
    return pd.DataFrame(rows).assign(**extra).astype("str")


def test_a_wrong_shape_is_rejected_with_a_bounded_reason(contract) -> None:
    frame = pd.concat([_frame(2), pd.DataFrame({f"x{i}": ["0", "0"] for i in range(300)})], axis=1)
    result = validate(frame, contract, "request_id", 0.2)
    assert result.rejected_reason.startswith("columns do not match the contract: unexpected columns")
    assert "and 280 more" in result.rejected_reason and len(result.rejected_reason) < 1000
    assert len(result.quarantine) == 2 and result.valid.empty


def test_unreadable_lines_count_towards_the_invalid_share(contract) -> None:
    frame = _frame(3)
    assert validate(frame, contract, "request_id", 0.2, unreadable=0).rejected_reason is None
    result = validate(frame, contract, "request_id", 0.2, unreadable=2)
    assert "lines unreadable as rows: 2 of 5" in result.rejected_reason


# --- store limits and accounting ------------------------------------------------------------


def test_ids_the_store_cannot_keep_are_named() -> None:
    ids = pd.Series(["ok", "x" * 513, "a\x00b", None, "y" * 512])
    assert unstorable_ids(ids).tolist() == [None, "request_id_too_long", "request_id_has_nul", None, None]
    assert storable_text(pd.Series(["a\x00b", "long"]), limit=3).tolist() == ["a\\x", "lon"]


def test_a_row_with_several_faults_is_one_quarantined_row(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    lines = [(1, "loan_amount"), (1, "purpose"), (2, "purpose"), (None, None), (None, None)]
    with store.begin() as conn:
        conn.execute(
            insert(quarantine),
            [{"batch_id": "b", "row": r, "column": c, "rule": "some_rule"} for r, c in lines],
        )
        assert counts(conn, "b", 0) == {"rows_scored": 0, "rows_quarantined": 4}


# --- CSV outputs ----------------------------------------------------------------------------


def test_the_response_is_written_as_computed_and_only_the_csv_rejects_are_guarded(tmp_path: Path) -> None:
    scores = AttemptScores(str(tmp_path / "archive"), "b-1", 1)
    outputs = BatchOutputs(str(tmp_path / "outbox"), str(tmp_path / "dev"), "b-1", "csv", scores)
    response = pd.DataFrame({"request_id": ["-17", "=1"], "score": [0.5, 0.5], "label": ["-1", "1"]})
    outputs.stage_response(0, response)
    risky = [
        " =1+1",
        "\uff1d1+1",
        "\uff0b1",
        "\uff0d1",
        "\uff20SUM(A1)",
        "\t=1",
        "\r=1",
        "-17",
        "=HYPERLINK(1)",
    ]
    published = outputs.publish(pd.DataFrame({"request_id": risky, "value": ["ok"] * len(risky)}))
    written = pd.read_csv(published["response"], dtype="str", keep_default_na=False)
    assert written["request_id"].tolist() == ["-17", "=1"] and written["label"].tolist() == ["-1", "1"]
    rejects = pd.read_csv(published["rejects"], dtype="str", keep_default_na=False)
    assert rejects["request_id"].tolist() == [f"'{cell}" for cell in risky]
    assert rejects["value"].tolist() == ["ok"] * len(risky)
    assert defuse_formulas(pd.DataFrame({"n": [-1.5]}))["n"].tolist() == [-1.5]  # numbers stay


# --- byte limits (issue 17) -----------------------------------------------------------------

SMALL = Limits(
    file_bytes=1 << 20, cell_bytes=1000, row_bytes=3000, parquet_decoded_bytes=200_000, chunk_bytes=1 << 20
)


def _limited(path: Path, fmt: str, limits: Limits = SMALL) -> str:
    with pytest.raises(BadInput) as refused:
        list(read_chunks(str(path), fmt, 100, limits))
    return str(refused.value)


def test_a_file_over_max_file_bytes_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "b.csv", (HEADER + "\n" + "\n".join(ROW.format(i=i) for i in range(20000))).encode()
    )
    assert "max_file_bytes" in _limited(path, "csv")


@pytest.mark.parametrize("suffix", ["csv.gz", "jsonl.bz2", "csv.zst"])
def test_a_compressed_file_is_held_to_max_file_bytes_as_it_decompresses(tmp_path: Path, suffix: str) -> None:
    """A few kilobytes of gzip that expand past the limit (short lines: no row limit trips)."""
    line = '{"a": 1}\n' if suffix.startswith("jsonl") else "1,2\n"
    codec = {"gz": "gzip", "bz2": "bz2", "zst": "zstd"}[suffix.rsplit(".", 1)[-1]]
    path = tmp_path / f"bomb.{suffix}"
    with pa.CompressedOutputStream(str(path), codec) as out:
        out.write(("a,b\n" if suffix.startswith("csv") else "").encode())
        for _ in range(40):
            out.write((line * 10_000).encode())
    assert path.stat().st_size < SMALL.file_bytes // 10
    fmt = detect_format(path.name)
    assert fmt in ("csv", "jsonl")
    reason = _limited(path, fmt)
    assert "decompressed to more than 1,048,576 bytes" in reason and "max_file_bytes" in reason


def test_a_compressed_file_within_the_limits_reads_as_its_inner_format(tmp_path: Path) -> None:
    path = tmp_path / "b.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,x\n2,y\n"))
    (frame, _), *rest = read_chunks(str(path), detect_format(path.name), 100, SMALL)
    assert frame.to_dict("list") == {"a": ["1", "2"], "b": ["x", "y"]} and not rest
    assert detect_format("b.parquet.gz") is None  # Parquet compresses its own pages


def test_a_cell_or_a_row_over_its_limit_is_refused_naming_row_and_column(tmp_path: Path) -> None:
    rows = [ROW.format(i=i) for i in range(5)]
    rows[3] = rows[3].replace("car", "c" * 1500)
    reason = _limited(_write(tmp_path / "b.csv", "\n".join([HEADER, *rows]).encode()), "csv")
    assert "row 3, column 'purpose'" in reason and "1,500 bytes" in reason and "max_cell_bytes" in reason
    wide = [
        r.replace("car", "c" * 990).replace("C00001", "C" * 990).replace("r-1,", "r" * 990 + ",")
        for r in (ROW.format(i=i) for i in range(5))
    ]
    reason = _limited(_write(tmp_path / "w.csv", "\n".join([HEADER, *wide]).encode()), "csv")
    assert "line 3" in reason and "max_row_bytes" in reason  # the header is line 1


def test_a_jsonl_line_over_max_row_bytes_is_refused_before_it_is_held(tmp_path: Path) -> None:
    lines = [json.dumps({"request_id": f"r-{i}"}) for i in range(3)] + [
        json.dumps({"request_id": "9" * 50_000})
    ]
    reason = _limited(_write(tmp_path / "b.jsonl", "\n".join(lines).encode()), "jsonl")
    assert "line 4" in reason and "max_row_bytes" in reason


def _dictionary_bomb(path: Path, value_bytes: int, rows: int) -> Path:
    table = pa.table({"request_id": [f"r-{i}" for i in range(rows)], "purpose": ["A" * value_bytes] * rows})
    pq.write_table(table, path, compression="zstd", use_dictionary=True)
    return path


def test_parquet_dictionary_values_are_measured_before_they_are_decoded(tmp_path: Path) -> None:
    bomb = _dictionary_bomb(tmp_path / "cell.parquet", 5000, 50)
    assert bomb.stat().st_size < 5000 and "max_cell_bytes" in _limited(bomb, "parquet")
    # values within the cell limit, 300 KB once decoded from a file of a few hundred bytes
    many = _dictionary_bomb(tmp_path / "many.parquet", 900, 340)
    limits = Limits(1 << 20, 1000, 3000, 10**9, 1 << 20)
    assert len(pd.concat(f for f, _ in read_chunks(str(many), "parquet", 100, limits))) == 340
    reason = _limited(many, "parquet", Limits(1 << 20, 1000, 3000, 250_000, 1 << 20))
    assert "max_parquet_decoded_bytes" in reason


def test_parquet_row_groups_over_the_decoded_limit_are_refused_from_the_footer(tmp_path: Path) -> None:
    table = pa.table({"request_id": [f"r-{i:07d}" for i in range(30_000)]})
    pq.write_table(table, tmp_path / "b.parquet", use_dictionary=False)
    assert "row groups" in _limited(tmp_path / "b.parquet", "parquet")


def test_a_long_quarantined_value_is_kept_as_prefix_length_and_sha256(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    value = "x" * 100_000 + "tail"
    rows = pd.DataFrame(
        {"row": [0, 1], "request_id": ["a", "b"], "column": "c", "rule": "r", "value": [value, "ok"]}
    )
    with store.begin() as conn:
        write_quarantine(store, conn, "b", rows)
        kept = dict(conn.execute(text("SELECT request_id, value FROM quarantine")).all())
    digest = hashlib.sha256(value.encode()).hexdigest()
    assert kept == {"a": f"{value[:QUARANTINED_VALUE_CHARS]}... (100,004 bytes, sha256 {digest})", "b": "ok"}


# --- printing and names (issue 17) ------------------------------------------------------------

HOSTILE_NAMES = [
    "[/]",
    "[link=https://evil]x[/link]",
    "\x1b[2J\x1b[31mred",
    "a\nFORGED: batch approved by alice",
    "\u202eevil.csv",
    "x\\",
    "\x9b31m",
    "\u2066iso\u2069",
]


def test_terminal_text_prints_as_sent_with_no_markup_or_control_characters() -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(file=io.StringIO(), width=400, color_system=None, force_terminal=False)
    table = Table()
    table.add_column("name")
    for name in HOSTILE_NAMES:
        out.print(f"[bold]{terminal(name)}[/]")
        table.add_row(terminal(name))
    out.print(table)
    shown = out.file.getvalue()
    assert "FORGED" not in shown.split("\n")[4 - 1][:2]  # the newline is an escape, not a new line
    assert not any(ch in shown for ch in "\x1b\x9b\u202e\u2066\u2069")
    assert "[/]" in shown and "[link=https://evil]x[/link]" in shown and "\\x1b[2J" in shown
    assert "a\\nFORGED" in shown and "\\u202eevil.csv" in shown


def test_markdown_text_cannot_open_code_links_or_html() -> None:
    text = markdown("a`b`<img src=x onerror=alert(1)>[x](javascript:1)\n# h *e* _u_ |t|")
    assert "<" not in text and "\n" not in text
    assert all(text[i - 1] == "\\" for i, ch in enumerate(text) if ch in "`[]()*|#:")


@pytest.mark.parametrize(
    "bad", ["../../../x", "", "a/b", ".hidden", "-rf", "x" * 129, "v1\n", "v 1", "v\u202e1"]
)
def test_model_versions_and_batch_ids_are_slugs(bad: str) -> None:
    with pytest.raises(InvalidName):
        checked_name(bad)
    assert checked_name("demo-live-v1.2_b") == "demo-live-v1.2_b"
    assert checked_name(slug(bad, 80, "batch"), "batch id")
