"""The progress bar's arithmetic: row estimates per format, and a bar that never claims 100% early."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rendezvous.progress import SAMPLE_BYTES, BatchProgress, estimate_rows


def _frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"request_id": [f"r-{i:07d}" for i in range(rows)], "amount": range(rows)})


def test_parquet_rows_are_read_from_the_footer(tmp_path: Path) -> None:
    _frame(1234).to_parquet(tmp_path / "b.parquet")
    assert estimate_rows(str(tmp_path / "b.parquet"), "parquet") == 1234


@pytest.mark.parametrize("rows", [0, 1, 57])
def test_small_text_files_are_counted_exactly(tmp_path: Path, rows: int) -> None:
    _frame(rows).to_csv(tmp_path / "b.csv", index=False)
    _frame(rows).to_json(tmp_path / "b.jsonl", orient="records", lines=True)
    assert estimate_rows(str(tmp_path / "b.csv"), "csv") == rows
    assert estimate_rows(str(tmp_path / "b.jsonl"), "jsonl") == rows


def test_large_text_files_are_estimated_from_their_first_mib(tmp_path: Path) -> None:
    frame = _frame(200_000)
    frame.to_csv(tmp_path / "b.csv", index=False)
    assert (tmp_path / "b.csv").stat().st_size > 2 * SAMPLE_BYTES
    estimate = estimate_rows(str(tmp_path / "b.csv"), "csv")
    assert estimate is not None and abs(estimate - 200_000) / 200_000 < 0.05


def test_unknown_or_unreadable_files_have_no_estimate(tmp_path: Path) -> None:
    (tmp_path / "b.parquet").write_bytes(b"PAR1 not really")
    assert estimate_rows(str(tmp_path / "b.parquet"), "parquet") is None
    assert estimate_rows(str(tmp_path / "b.xlsx"), None) is None
    assert estimate_rows(str(tmp_path / "missing.csv"), "csv") is None


def test_bar_only_for_several_chunks_and_full_only_at_the_end() -> None:
    short = BatchProgress(chunk_rows=1000, expected_rows=900)
    short.start_chunk(900)
    assert not short.worth_showing
    long = BatchProgress(chunk_rows=100, expected_rows=250)
    assert long.worth_showing and long.expected_chunks == 3
    seen = []
    for rows in (100, 100, 50):
        long.start_chunk(rows)
        seen.append(long.percent())
    assert seen == [0.0, 40.0, 80.0]
    long.finish()
    assert long.percent() == 100.0
    assert long.describe("b.csv") == "b.csv: 250 rows in 3 chunks, done"


def test_an_underestimate_grows_the_bar_but_stays_below_full() -> None:
    progress = BatchProgress(chunk_rows=100, expected_rows=100)  # estimated one chunk
    assert not progress.worth_showing
    for _ in range(4):
        progress.start_chunk(100)
    assert progress.worth_showing  # the second chunk revealed a long batch
    assert progress.percent() == 99.0
    assert "chunk 4 of ~4" in progress.describe("b.csv")
