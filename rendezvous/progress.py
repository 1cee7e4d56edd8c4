"""How far a long batch has got, for the progress artifact on its run page.

Counting a text file's rows would mean reading it twice, so CSV and JSON Lines are estimated from
their size and the line length of their first MiB; Parquet states its row count in its footer.
The estimate only sizes the bar: it never exceeds 99% before the batch ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow.parquet as pq

from rendezvous.batchfiles import filesystem
from rendezvous.compression import split_suffix

SAMPLE_BYTES = 1 << 20


def estimate_rows(url: str, fmt: str | None) -> int | None:
    """Rows in the batch file: exact for Parquet (and small text files), else an estimate."""
    fs, path = filesystem(url)
    try:
        if fmt == "parquet":
            with fs.open(path, "rb") as handle:
                return pq.ParquetFile(handle).metadata.num_rows
        if fmt not in ("csv", "jsonl") or split_suffix(path)[1]:
            return None  # compressed: its size says little about its rows
        size = fs.size(path)
        with fs.open(path, "rb") as handle:
            sample = handle.read(SAMPLE_BYTES)
    except (OSError, ValueError):
        return None  # unreadable files are judged (and rejected) by the reader, not here
    lines = sum(1 for line in sample.splitlines() if line.strip())
    if len(sample) < size and lines:
        lines = round(size * lines / len(sample))
    header = 1 if fmt == "csv" else 0
    return max(lines - header, 0)


@dataclass
class BatchProgress:
    """Rows done against the expected total, and whether a bar is worth showing."""

    chunk_rows: int
    expected_rows: int | None
    rows_done: int = 0
    rows_read: int = 0
    chunks_started: int = 0
    finished: bool = False

    @property
    def expected_chunks(self) -> int:
        if not self.expected_rows:
            return 1
        return -(-self.expected_rows // self.chunk_rows)

    @property
    def worth_showing(self) -> bool:
        """Only batches of more than one chunk get a bar (a short batch is done before it draws)."""
        return self.expected_chunks > 1 or self.chunks_started > 1

    def start_chunk(self, rows: int) -> None:
        """A chunk of ``rows`` rows is being processed; the rows before it are done."""
        self.chunks_started += 1
        self.rows_done = self.rows_read
        self.rows_read += rows

    def finish(self) -> None:
        self.rows_done = self.rows_read
        self.finished = True

    def percent(self) -> float:
        if self.finished:
            return 100.0
        total = max(self.expected_rows or 0, self.rows_done, 1)
        return round(min(99.0, 100.0 * self.rows_done / total), 1)

    def describe(self, name: str) -> str:
        if self.finished:
            return f"{name}: {self.rows_done:,} rows in {self.chunks_started} chunks, done"
        expected = f"~{self.expected_rows:,}" if self.expected_rows else "?"
        chunks = max(self.expected_chunks, self.chunks_started)
        return (
            f"{name}: chunk {self.chunks_started} of ~{chunks}, "
            f"{self.rows_done:,} of {expected} rows done"
        )
