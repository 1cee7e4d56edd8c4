"""Time one batch in a fresh, warmed-up process and print JSON: seconds, memory, flow steps.

    python benchmarks/measure.py flow|bare FILE

Run by bench.py, one process per measurement, so each peak RSS is that run's own. The flow runs
as `score` and the warm scorer run it, without Prefect's flow-run heartbeat: a deployment's run
keeps it, and joins its thread (which sleeps in one-second steps) at the end, 0.5 s on average.
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd
import psutil

from rendezvous.runtime import configure_prefect_env

configure_prefect_env()

from bare import score_bare  # noqa: E402
from workload import batch_file  # noqa: E402

from flows.score_batches import score_batches  # noqa: E402
from rendezvous.cli.scoring import no_heartbeats_unless_asked  # noqa: E402
from rendezvous.services import get_services  # noqa: E402

STEPS = (
    "intake",
    "validate-enrich",
    "live-bin",
    "canary-bin",
    "shadow-bin",
    "log-bin",
    "dev-copy-bin",
    "monitor",
    "commit",
)


def _mb(value: float) -> float:
    return round(value / 2**20, 1)


def flow_steps(flow_run_id: str) -> dict[str, float]:
    """Busy seconds per step, from the task runs Prefect recorded (bins overlap in time)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    runs = []
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                limit=200,
                offset=len(runs),
            )
            runs.extend(page)
            if len(page) < 200:
                break
    busy: dict[str, float] = defaultdict(float)
    for run in runs:
        step = next((s for s in STEPS if run.name.startswith(s)), "other")
        busy[step] += run.total_run_time.total_seconds()
    return dict(busy)


def run_flow(path: Path, warmup: Path) -> dict:
    inbox = Path(get_services().settings.inbox_url)
    shutil.copy(warmup, inbox / warmup.name)
    score_batches()  # warm: GX, models, reference, Prefect client
    before = psutil.Process().memory_info().rss
    shutil.copy(path, inbox / path.name)
    start = time.perf_counter()
    with no_heartbeats_unless_asked():  # as `score` and the warm scorer run it
        state = score_batches(return_state=True)
    seconds = time.perf_counter() - start
    (outcome,) = state.result()
    assert outcome["state"] == "committed", outcome
    return {
        "seconds": seconds,
        "rss_before_mb": _mb(before),
        "rows_scored": outcome["rows_scored"],
        "steps": flow_steps(str(state.state_details.flow_run_id)),
    }


def run_bare(path: Path, warmup: Path) -> dict:
    services = get_services()
    registry = services.registry
    live = registry.load(registry.by_role("live"))
    canary = registry.load(registry.by_role("canary"))
    reference = pd.read_parquet(services.settings.reference_url)
    with tempfile.TemporaryDirectory() as out:
        score_bare(warmup, reference, live, canary, Path(out))
        before = psutil.Process().memory_info().rss
        start = time.perf_counter()
        scored = score_bare(path, reference, live, canary, Path(out))
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "rss_before_mb": _mb(before), "rows_scored": scored, "steps": {}}


if __name__ == "__main__":
    mode, file = sys.argv[1], Path(sys.argv[2])
    warm = batch_file(file.parent, 200, seed=int(time.time() * 1000) % 10**9)
    result = (run_flow if mode == "flow" else run_bare)(file, warm)
    warm.unlink()
    result["peak_rss_mb"] = _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps(result))
