"""Micro-batch latency: a 1k-row file lands in the inbox; how long until its response is in the
outbox? One warm process (`rendezvous score --watch`), many batches; median and 95th percentile.
With ``--via api``, the batch is sent to `rendezvous api` instead (POST /v1/batches) and the
round trip runs until GET .../response?wait= returns it.

    python benchmarks/latency.py --batches 30
    python benchmarks/latency.py --batches 30 --via api
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

import httpx
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


def start_api(env: dict[str, str], port: int) -> subprocess.Popen:
    """`rendezvous api` on loopback (no token needed there), once it answers."""
    api = subprocess.Popen([sys.executable, "-m", "rendezvous.cli", "api", "--port", str(port)],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/batches/none", timeout=1)
            return api
        except httpx.TransportError:
            time.sleep(0.1)
    api.terminate()
    raise TimeoutError("rendezvous api did not start in 60 s")


def api_round_trip(port: int, content: bytes) -> tuple[float, float]:
    """Seconds from sending the body to holding its response, and of those the POST's own."""
    base = f"http://127.0.0.1:{port}/v1/batches"
    sent = time.perf_counter()
    batch = httpx.post(base, content=content, headers={"content-type": "text/csv"}, timeout=60)
    batch.raise_for_status()
    accepted = time.perf_counter()
    answer = httpx.get(f"{base}/{batch.json()['batch_id']}/response", params={"wait": 60}, timeout=90)
    if answer.status_code != 200:
        raise RuntimeError(f"no response: {answer.status_code} {answer.text}")
    return time.perf_counter() - sent, accepted - sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--rows", type=int, default=1_000)
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench-latency")
    parser.add_argument("--via", choices=("inbox", "api"), default="inbox")
    parser.add_argument("--port", type=int, default=8765, help="the API's port with --via api")
    args = parser.parse_args()
    prepare_home(args.home)
    env = {**os.environ, "RENDEZVOUS_HOME": str(args.home), "PREFECT_HOME": str(args.home / "prefect")}
    env.pop("PREFECT_API_URL", None)
    watcher = subprocess.Popen([sys.executable, "-m", "rendezvous.cli", "score", "--watch", "--poll", "0.05"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    inbox, outbox, done = (args.home / name for name in ("inbox", "outbox", "done"))
    data = args.home.parent / "bench-latency-data"
    latencies, posts = [], []
    api = start_api(env, args.port) if args.via == "api" else None
    try:
        for index in range(args.batches + 1):  # the first one warms the watcher up
            source = batch_file(data, args.rows, seed=10_000 + index)
            content = source.read_bytes()
            if api is not None:
                took, post = api_round_trip(args.port, content)
                if index:
                    latencies.append(took)
                    posts.append(post)
                continue
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
        for process in (watcher, api):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        # the watcher started the home's local Prefect server: nothing of the run is left running
        stop = [sys.executable, "-m", "rendezvous.cli", "server", "--stop"]
        subprocess.run(stop, env=env, capture_output=True, check=False)
    p95 = statistics.quantiles(latencies, n=20, method="inclusive")[-1]
    trip = "POST -> response" if api is not None else "landing -> response"
    print(f"{args.rows}-row micro-batches, {len(latencies)} batches: {trip} "
          f"median {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, max {max(latencies):.2f} s"
          + (f" (the POST, checked and queued: median {statistics.median(posts):.2f} s)" if posts else ""))


if __name__ == "__main__":
    main()
