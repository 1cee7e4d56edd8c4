"""Micro-batch latency: a 1k-row file lands in the inbox; how long until its response is in the
outbox? One warm process (`rendezvous score --watch`), many batches; median and 95th percentile.

    python benchmarks/latency.py --batches 30
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import ROOT, prepare_home
from workload import batch_file

from rendezvous.ledger import batch_id_for


def wait_for(path: Path, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while not path.exists():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no {path} after {timeout} s")
        time.sleep(0.005)
    return time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--rows", type=int, default=1_000)
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench-latency")
    args = parser.parse_args()
    prepare_home(args.home)
    env = {**os.environ, "RENDEZVOUS_HOME": str(args.home), "PREFECT_HOME": str(args.home / "prefect")}
    env.pop("PREFECT_API_URL", None)
    watcher = subprocess.Popen([sys.executable, "-m", "rendezvous.cli", "score", "--watch", "--poll", "0.05"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    inbox, outbox, done = (args.home / name for name in ("inbox", "outbox", "done"))
    data = args.home.parent / "bench-latency-data"
    latencies = []
    try:
        for index in range(args.batches + 1):  # the first one warms the watcher up
            source = batch_file(data, args.rows, seed=10_000 + index)
            content = source.read_bytes()
            name = f"micro-{index:04d}.csv"
            response = outbox / batch_id_for(name, hashlib.sha256(content).hexdigest()) / "response.csv"
            (inbox / f"{name}.part").write_bytes(content)
            landed = time.perf_counter()
            (inbox / f"{name}.part").rename(inbox / name)  # an atomic landing, as uploaders do
            answered = wait_for(response, timeout=120)
            wait_for(done / name, timeout=120)
            if index:
                latencies.append(answered - landed)
    finally:
        watcher.terminate()
        watcher.wait(timeout=30)
    p95 = statistics.quantiles(latencies, n=20, method="inclusive")[-1]
    print(f"{args.rows}-row micro-batches, {len(latencies)} batches: landing -> response "
          f"median {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, max {max(latencies):.2f} s")


if __name__ == "__main__":
    main()
