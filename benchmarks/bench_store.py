"""What the score log costs: 1M scores of one model into the store (its unique and batch
indexes), against writing the same rows to Parquet, as the bare script does. This is the
largest step the flow adds to the bare floor at 1M rows.

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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script

from rendezvous.records import write_scores
from rendezvous.store import Store
from rendezvous.store.engine import dispose_all

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


def into_store(url: str, frame: pd.DataFrame, seed: int) -> float:
    store = Store(url)
    start = time.perf_counter()
    with store.begin() as conn:
        for role in ("live", "canary"):
            write_scores(store, conn, f"batch-{seed}", role, f"{role}-v1", frame)
    return time.perf_counter() - start


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
        urls = {"SQLite": f"sqlite:///{folder / 'store.db'}"}
        if args.postgres:
            urls["PostgreSQL"] = args.postgres
        times: dict[str, list[float]] = {"Parquet": [], **{name: [] for name in urls}}
        for seed in range(REPEATS):
            frame = scores(args.rows, seed)
            times["Parquet"].append(into_parquet(folder, frame))
            for name, url in urls.items():
                times[name].append(into_store(url, frame, seed))
        dispose_all()
    floor = statistics.median(times["Parquet"])
    print(f"{args.rows:,} rows x 2 models' scores, median of {REPEATS}:")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<10} {median:6.2f} s  ({median / floor:.1f}x Parquet)")


if __name__ == "__main__":
    main()
