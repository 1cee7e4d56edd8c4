"""What the score log costs: 1M scores of two models written as the bins write them (one
Parquet file per model) and the commit's run of the live ids in the scored-id set (checked
against the set under its lock), against writing the same rows to Parquet
as the bare script does. Before, these rows went into a SQL table with a 4-column unique index:
6.4 s on SQLite and 6.9 s on PostgreSQL for 1M rows x 2 models, against 0.22 s as Parquet.

    python benchmarks/bench_store.py [rows] [--postgres URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import delete

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script

from rendezvous.records import record_scored_ids, write_scores
from rendezvous.scorelog.files import AttemptScores
from rendezvous.scorelog.scored_ids import ScoredIds
from rendezvous.store import Store
from rendezvous.store.engine import dispose_all
from rendezvous.store.schema import id_runs

REPEATS = 3


def scores(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "request_id": pd.array([f"b{seed}-{i:08d}" for i in range(rows)], dtype="str"),
            "score": rng.random(rows),
            "label": pd.array(np.where(rng.random(rows) > 0.8, "1", "0"), dtype="str"),
        }
    )


def into_score_log(url: str | None, folder: Path, frame: pd.DataFrame, seed: int) -> float:
    """The bins' files, then (``url`` given) the commit's insert of the live ids."""
    staged = AttemptScores(str(folder / "log"), f"batch-{seed}", 1)
    store = Store(url) if url else None
    start = time.perf_counter()
    for role in ("live", "canary"):
        write_scores(staged, 0, role, f"{role}-v1", frame)
    if store is None:
        return time.perf_counter() - start
    with store.begin() as conn:
        record_scored_ids(ScoredIds(store, str(folder / "log")), conn, staged.batch_id, staged)
    took = time.perf_counter() - start
    with store.begin() as conn:  # a database given with --postgres is left as it was
        conn.execute(delete(id_runs).where(id_runs.c.url.startswith(staged.url)))
    return took


def into_parquet(folder: Path, frame: pd.DataFrame) -> float:
    start = time.perf_counter()
    for role in ("live", "canary"):
        frame.to_parquet(folder / f"{role}.parquet")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rows", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--postgres", help="also a PostgreSQL store, e.g. postgresql+psycopg://...")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        urls: dict[str, str | None] = {
            "score files": None,
            "files + SQLite ids": f"sqlite:///{folder / 'store.db'}",
        }
        if args.postgres:
            urls["files + PostgreSQL ids"] = args.postgres
        times: dict[str, list[float]] = {"Parquet": [], **{name: [] for name in urls}}
        for seed in range(REPEATS):
            frame = scores(args.rows, seed)
            times["Parquet"].append(into_parquet(folder, frame))
            for name, url in urls.items():
                times[name].append(into_score_log(url, folder, frame, seed))
        dispose_all()
    floor = statistics.median(times["Parquet"])
    print(f"{args.rows:,} rows x 2 models' scores, median of {REPEATS}:")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<22} {median:6.2f} s  ({median / floor:.1f}x Parquet)")


if __name__ == "__main__":
    main()
