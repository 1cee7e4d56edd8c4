"""What the Prefect UI shows of a scoring run: its name is its batches, its tags name the model
versions (on the flow run and on each task), and a batch of several chunks gets a progress bar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
)

from flows.score_batches import score_batches
from rendezvous.services import forget_services
from rendezvous.settings import get_settings
from tasks.observability import PROGRESS_KEY

pytestmark = pytest.mark.usefixtures("prefect_api")
SeedDemo = Callable[..., list[str]]
LONG, SHORT = "loans-2026-11-02.parquet", "loans-2026-11-01.csv"


def _artifacts(run_id: UUID) -> list:
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )


def _run(seed_demo: SeedDemo, home: Path, keep: str, monkeypatch: pytest.MonkeyPatch, chunk_rows: int):
    monkeypatch.setenv("RENDEZVOUS_CHUNK_ROWS", str(chunk_rows))
    get_settings.cache_clear()
    forget_services()
    for name in seed_demo(rows=300):
        if name != keep:
            (home / "inbox" / name).unlink()
    state = score_batches(return_state=True)
    assert state.is_completed(), state.message
    return state.state_details.flow_run_id


def test_long_batch_has_progress_and_model_tags(
    home: Path, seed_demo: SeedDemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _run(seed_demo, home, LONG, monkeypatch, chunk_rows=100)

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
    assert run.name == LONG
    assert {"live:demo-live-v1", "canary:demo-canary-v1"} <= set(run.tags)
    bins = sorted(t.name for t in tasks if t.name.startswith(("live-bin", "canary-bin")))
    assert len(bins) == 3 + 3  # three chunks of live and canary, each named with its model
    assert [name.rsplit(" ", 1)[1] for name in bins] == ["(demo-canary-v1)"] * 3 + ["(demo-live-v1)"] * 3
    # the versions are the run's tags, not its tasks': a tagged task run asks the API for
    # concurrency slots before it starts
    assert all(t.tags == [] for t in tasks)
    (progress,) = [a for a in _artifacts(run_id) if a.type == "progress"]
    assert progress.key == PROGRESS_KEY
    assert progress.data == 100.0
    assert progress.description == f"{LONG}: 300 rows in 3 chunks, done"


def test_short_batch_has_no_progress_bar(
    home: Path, seed_demo: SeedDemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _run(seed_demo, home, SHORT, monkeypatch, chunk_rows=1000)
    assert [a for a in _artifacts(run_id) if a.type == "progress"] == []
