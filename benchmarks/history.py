"""`make bench BENCH_ARGS="--history 20"`: consecutive batches into one home, then the reads.

Each batch is scored in a fresh, warmed-up process (``measure.py flow``), so each peak RSS is its
own: the series says whether a batch costs more, in time or memory, as the history grows (the
target: the last within 10% of the second, memory flat). Then, over that history, the reads are
timed as whole commands: ``labels add`` of up to 1M labels, ``performance``, ``report``, ``verify``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from workload import batch_file

LABELS = 1_000_000
CLI = [sys.executable, "-m", "rendezvous.cli"]


def history_files(data: Path, batches: int, rows: int, random_ids: bool) -> list[Path]:
    """The history's batch files, each with ids of its own: nothing is quarantined."""
    return [batch_file(data, rows, seed=1000 + number, random_ids=random_ids) for number in range(batches)]


def score_history(measure, files: list[Path], env: dict[str, str]) -> list[dict]:
    """Per batch: seconds, peak RSS, busy seconds per step; ``measure(mode, file, env)`` runs one
    batch in a process."""
    series = []
    for number, file in enumerate(files):
        run = measure("flow", file, env)
        series.append(
            {
                "batch": number + 1,
                "seconds": run["seconds"],
                "peak_rss_mb": run["peak_rss_mb"],
                "steps": run["steps"],  # busy seconds per step: which one grows, if any
            }
        )
    return series


def label_file(data: Path, files: list[Path], wanted: int) -> Path:
    """Outcomes for the first ``wanted`` requests of the history (column ``outcome``)."""
    ids: list[pa.Array] = []
    for file in files:
        column = pacsv.read_csv(file, convert_options=pacsv.ConvertOptions(include_columns=["request_id"]))
        ids.append(column["request_id"].combine_chunks().cast(pa.string()))
        if sum(len(a) for a in ids) >= wanted:
            break
    request_ids = pa.concat_arrays(ids)[:wanted]
    outcomes = np.random.default_rng(0).integers(0, 2, len(request_ids)).astype(str)
    target = data / f"labels-{len(request_ids)}.csv"
    pacsv.write_csv(pa.table({"request_id": request_ids, "outcome": outcomes}), target)
    return target


def time_reads(data: Path, env: dict[str, str], files: list[Path]) -> dict[str, float]:
    """Seconds of each read command over the home's history (wall time of the whole process)."""
    labels = label_file(data, files, LABELS)
    labelled = pacsv.read_csv(labels, convert_options=pacsv.ConvertOptions(include_columns=["request_id"]))
    commands = {
        f"labels add ({labelled.num_rows:,} labels)": ["labels", "add", str(labels)],
        "performance": ["performance", "--json"],
        "report": ["report", "-o", str(data / "report.html")],
        "verify": ["verify", "--json"],
    }
    timings = {}
    for name, arguments in commands.items():
        start = time.perf_counter()
        done = subprocess.run([*CLI, *arguments], env=env, capture_output=True, text=True)
        timings[name] = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return timings
