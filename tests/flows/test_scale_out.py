"""Scale-out by configuration only: state on object storage (fsspec ``memory://``), the bins on a Dask
LocalCluster, and two scoring processes on one inbox of 10 batches, each batch processed once.
Each test runs on SQLite and on PostgreSQL (tests/flows/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import pandas as pd
import pytest
from prefect.settings import PREFECT_API_URL
from score_rows import score_rows
from sqlalchemy import select

from flows.score_batches import score_batches
from rendezvous.demo.data import make_customers, make_requests
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings
from rendezvous.store.schema import batches
from tasks.runners import task_runner_for

pytestmark = pytest.mark.usefixtures("prefect_api")
ROOT = Path(__file__).resolve().parents[2]
SeedDemo = Callable[..., list[str]]  # the seed_demo fixture of tests/flows/conftest.py
LOCATIONS = ("inbox", "outbox", "archive", "dev", "done", "failed", "labels")


def _reload_settings() -> None:
    get_settings.cache_clear()
    forget_services()


def _one_score_per_request_and_role() -> bool:
    return not score_rows(get_services().store).duplicated(["request_id", "role"]).any()


def test_whole_flow_on_object_storage(
    home: Path, seed_demo: SeedDemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inbox, outbox, archive, dev, done, failed, labels, reference and models on memory://."""
    bucket = f"memory://rdv-{os.getpid()}-{time.monotonic_ns()}"
    for name in LOCATIONS:
        monkeypatch.setenv(f"RENDEZVOUS_{name.upper()}_URL", f"{bucket}/{name}")
    monkeypatch.setenv("RENDEZVOUS_REFERENCE_URL", f"{bucket}/reference/customers.parquet")
    monkeypatch.setenv("RENDEZVOUS_MODELS_DIR", f"{bucket}/models")
    _reload_settings()
    seed_demo(rows=120)
    assert all(m.path.startswith(bucket) for m in get_services().registry.list())

    outcomes = {o["source"]: o for o in score_batches()}

    fs = fsspec.filesystem("memory")
    root = bucket.removeprefix("memory://")
    clean = outcomes["loans-2026-11-02.parquet"]
    assert clean["state"] == "committed" and clean["rows_scored"] == 120
    with fsspec.open(clean["outputs"]["response"], "rb") as handle:
        response = pd.read_parquet(handle)
    assert len(response) == 120 and set(response["model_version"]) == {"demo-live-v1"}
    bad = outcomes["loans-2026-11-04-bad-rows.csv"]
    assert bad["outputs"]["rejects"].startswith(bucket)
    assert bad["rows_in"] == bad["rows_scored"] + bad["rows_quarantined"] > bad["rows_scored"]
    assert outcomes["loans-2026-11-06-malformed.csv"]["state"] == "rejected"
    assert fs.exists(f"/{root}/failed/loans-2026-11-06-malformed.csv.reason.txt")
    assert outcomes["loans-2026-11-01-resent.csv"]["state"] == "duplicate"
    assert fs.ls(f"/{root}/inbox") == []
    assert len(fs.glob(f"/{root}/archive/raw/*/*")) == 6  # the resent file is the same bytes
    assert fs.glob(f"/{root}/dev/date=2026-11-0*/*.parquet")
    # nothing but the SQLite store (if the store is SQLite) is written under home
    local = {p.name for p in home.iterdir()} if home.exists() else set()
    assert local <= {"rendezvous.db", "rendezvous.db-shm", "rendezvous.db-wal"}
    assert _one_score_per_request_and_role()


@pytest.mark.slow
def test_bins_on_a_dask_local_cluster(
    home: Path, seed_demo: SeedDemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENDEZVOUS_CHUNK_ROWS", "100")
    monkeypatch.setenv("RENDEZVOUS_TASK_RUNNER", "dask")
    _reload_settings()
    kept = ("loans-2026-11-02.parquet", "loans-2026-11-04-bad-rows.csv")
    for name in seed_demo(rows=250):
        if name not in kept:  # two batches (two chunks each) are enough; a Dask batch is slower
            (home / "inbox" / name).unlink()
    runner = task_runner_for(get_settings())
    assert type(runner).__name__ == "DaskTaskRunner"

    outcomes = {o["source"]: o for o in score_batches.with_options(task_runner=runner)()}

    assert set(outcomes) == set(kept)
    assert all(o["state"] == "committed" for o in outcomes.values())
    assert outcomes["loans-2026-11-02.parquet"]["rows_scored"] == 250
    bad = outcomes["loans-2026-11-04-bad-rows.csv"]
    assert bad["rows_in"] == 250 == bad["rows_scored"] + bad["rows_quarantined"]
    assert all(Path(o["outputs"]["response"]).exists() for o in outcomes.values())
    per_role = score_rows(get_services().store)["role"].value_counts().to_dict()
    scored = sum(o["rows_scored"] for o in outcomes.values() if o["state"] == "committed")
    assert per_role == {"live": scored, "canary": scored}
    assert _one_score_per_request_and_role()


BATCHES, ROWS = 10, 200

DRIVER = """
import json, sys, time
from pathlib import Path
from rendezvous.runtime import configure_prefect_env
configure_prefect_env()
from flows.score_batches import score_batches
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.01)
state = score_batches(return_state=True)
print(json.dumps(state.result() if state.is_completed() else {"failed": state.message}))
"""


def test_two_runs_on_one_inbox_process_each_batch_once(
    home: Path, seed_demo: SeedDemo, tmp_path: Path
) -> None:
    """Two scoring processes start together on one inbox: every batch is committed once, by one."""
    seed_demo(rows=None)
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    customers = make_customers(5000, seed=7)
    for day in range(BATCHES):
        frame = make_requests(
            ROWS, customers, datetime(2026, 12, 1, tzinfo=UTC), seed=500 + day, id_prefix=f"two{day:02d}"
        )
        frame.to_csv(inbox / f"two-{day:02d}.csv", index=False)

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    go = tmp_path / "go"
    runs = []
    for worker in range(2):
        ready = tmp_path / f"ready-{worker}"
        runs.append(
            (
                ready,
                subprocess.Popen(
                    [sys.executable, "-c", DRIVER, str(ready), str(go)],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    while not all(ready.exists() for ready, _ in runs):
        assert all(p.poll() is None for _, p in runs), [p.communicate() for _, p in runs]
        time.sleep(0.05)
    go.touch()
    results = []
    for _, process in runs:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(isinstance(r, list) for r in results), results

    committed = [{o["source"] for o in r if o["state"] == "committed"} for r in results]
    assert committed[0].isdisjoint(committed[1])
    assert committed[0] | committed[1] == {f"two-{d:02d}.csv" for d in range(BATCHES)}
    with get_services().store.begin() as conn:
        rows = conn.execute(select(batches)).all()
    assert len(rows) == BATCHES
    assert {r.state for r in rows} == {"committed"}
    assert {r.attempts for r in rows} == {1}
    assert len(score_rows(get_services().store)) == BATCHES * ROWS * 2
    assert _one_score_per_request_and_role()
    assert sorted(p.name for p in (home / "done").iterdir()) == [f"two-{d:02d}.csv" for d in range(BATCHES)]
