"""Reading batch files: formats, chunk boundaries, row numbers, and clear refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from rendezvous.batchfiles import BadInput, detect_format, list_batches, read_chunks, sha256_file


def _read_all(path: Path, fmt: str, chunk_rows: int = 1000) -> tuple[pd.DataFrame, list]:
    frames, malformed = [], []
    for frame, bad in read_chunks(str(path), fmt, chunk_rows):
        frames.append(frame)
        malformed.extend(bad)
    return pd.concat(frames), malformed


def test_csv_is_read_as_text_in_chunks_with_global_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    pd.DataFrame({"id": [f"r{i}" for i in range(25)], "x": range(25)}).to_csv(path, index=False)
    parts = list(read_chunks(str(path), "csv", chunk_rows=10))
    assert [len(frame) for frame, _ in parts] == [10, 10, 5]
    assert list(parts[2][0].index) == list(range(20, 25))
    assert parts[1][0]["x"].tolist() == [str(i) for i in range(10, 20)]


def test_csv_ragged_lines_are_reported_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("id,x,y\nr1,1,2\nr2,3\nr3,4,5\n")
    frame, malformed = _read_all(path, "csv")
    assert frame["id"].tolist() == ["r1", "r3"]
    assert len(malformed) == 1
    assert malformed[0].line == 3 and "expected 3 fields, got 2" in malformed[0].value


def test_undecodable_bytes_are_refused_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"id,name\nr1,caf\xe9\n")
    with pytest.raises(BadInput, match=r"not UTF-8 at byte 14 \(line 2\)"):
        _read_all(path, "csv")


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(BadInput, match="empty file"):
        _read_all(path, "csv")


def test_header_only_gives_zero_rows(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("id,x\n")
    frame, malformed = _read_all(path, "csv")
    assert len(frame) == 0 and list(frame.columns) == ["id", "x"] and malformed == []


def test_parquet_chunks_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "b.parquet"
    pd.DataFrame({"id": [f"r{i}" for i in range(30)], "x": range(30)}).to_parquet(path)
    frame, _ = _read_all(path, "parquet", chunk_rows=7)
    assert len(frame) == 30 and frame.index[-1] == 29
    truncated = tmp_path / "cut.parquet"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BadInput, match="unreadable parquet"):
        _read_all(truncated, "parquet")


def test_jsonl_keeps_values_as_text_and_nested_objects_as_json(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"id": "r1", "x": 1.5}\n{"id": "r2", "x": {"nested": true}}\n')
    frame, _ = _read_all(path, "jsonl")
    assert frame["x"].tolist() == ["1.5", '{"nested": true}']


def test_listing_is_oldest_first_and_skips_partial_uploads_and_hidden_files(tmp_path: Path) -> None:
    for age, name in enumerate(("b.csv", "a.parquet", ".hidden.csv", "c.csv.part", "d.tmp")):
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (1_000_000 - age * 10, 1_000_000 - age * 10))
    assert list_batches(str(tmp_path)) == ["a.parquet", "b.csv"]
    assert list_batches(str(tmp_path / "missing")) == []
    assert (tmp_path / "missing").is_dir()  # a new home's inbox: there to drop files into


def test_formats_and_hash(tmp_path: Path) -> None:
    assert detect_format("a.CSV") == "csv"
    assert detect_format("a.ndjson") == "jsonl"
    assert detect_format("a.xlsx") is None
    assert detect_format("noext") is None
    path = tmp_path / "a.csv"
    path.write_bytes(b"abc")
    assert (
        sha256_file(str(path)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_rows_filling_whole_chunks_give_no_trailing_empty_chunk(tmp_path: Path) -> None:
    path = tmp_path / "exact.csv"
    pd.DataFrame({"id": [f"r{i}" for i in range(20)]}).to_csv(path, index=False)
    assert [len(frame) for frame, _ in read_chunks(str(path), "csv", chunk_rows=10)] == [10, 10]
