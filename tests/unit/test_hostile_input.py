"""Regressions for the defects the hostile corpus and the random batches found (issue 6, item 5),
pinned at the function that was fixed, without a flow run."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import insert

from rendezvous.batchfiles import (
    MAX_COLUMNS,
    BadInput,
    check_utf8,
    list_batches,
    read_chunks,
    utf8_name,
)
from rendezvous.outputs import NAME_MAX, defuse_formulas, note_name, write_table
from rendezvous.records import counts, storable_text, unstorable_ids
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
        assert counts(conn, "b") == {"rows_scored": 0, "rows_quarantined": 4}


# --- CSV outputs ----------------------------------------------------------------------------


def test_csv_outputs_defuse_formulas_and_other_formats_keep_the_text(tmp_path: Path) -> None:
    frame = pd.DataFrame({"request_id": ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(1)", "\t=1", "ok"]})
    write_table(frame, str(tmp_path / "r.csv"), "csv")
    cells = pd.read_csv(tmp_path / "r.csv", dtype="str", keep_default_na=False)["request_id"]
    assert cells.tolist() == ["'=cmd|' /C calc'!A0", "'+1", "'-2+3", "'@SUM(1)", "'\t=1", "ok"]
    write_table(frame, str(tmp_path / "r.jsonl"), "jsonl")
    assert pd.read_json(io.StringIO((tmp_path / "r.jsonl").read_text()), lines=True)[
        "request_id"
    ].tolist() == (frame["request_id"].tolist())
    assert defuse_formulas(pd.DataFrame({"n": [-1.5]}))["n"].tolist() == [-1.5]  # numbers stay
